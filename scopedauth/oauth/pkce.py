"""PKCE (RFC 7636) and the ``state`` parameter, from :mod:`secrets` only.

Databricks accepts S256 only, so there is no ``plain`` here. The verifier carries 512 bits
(64 random bytes → 86 base64url characters), well above the RFC's 256-bit advice and inside
its 43-128 character range; ``state`` carries 256 bits.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

__all__ = ["UNRESERVED", "make_state", "make_verifier", "s256_challenge"]

#: the characters RFC 7636 §4.1 allows in a verifier
UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_verifier(nbytes: int = 64) -> str:
    """A fresh code verifier: ``nbytes`` random bytes, base64url without padding."""
    if not isinstance(nbytes, int) or isinstance(nbytes, bool):
        raise TypeError(f"nbytes must be an int, not {type(nbytes).__name__}")
    if not 32 <= nbytes <= 96:
        raise ValueError("a PKCE verifier needs 32 to 96 random bytes (43 to 128 characters)")
    return _b64url(secrets.token_bytes(nbytes))


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(verifier)))`` — the only method Databricks accepts.

    A verifier outside RFC 7636 §4.1 (43 to 128 unreserved characters) is a :class:`ValueError`:
    the server would refuse it at the token endpoint, after the user already clicked through.
    """
    if not 43 <= len(verifier) <= 128 or not UNRESERVED.issuperset(verifier):
        raise ValueError("a PKCE verifier is 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)")
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def make_state() -> str:
    """A fresh, unguessable ``state`` (256 bits) binding the callback to this login."""
    return _b64url(secrets.token_bytes(32))
