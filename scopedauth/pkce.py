"""PKCE (RFC 7636) and the ``state`` parameter, from :mod:`secrets` only.

Databricks accepts S256 only, so there is no ``plain`` here. The verifier carries 384 bits
(64 random bytes → 86 base64url characters), well above the RFC's 256-bit advice and inside
its 43–128 character range; ``state`` carries 256 bits.
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
    if not 32 <= nbytes <= 96:
        raise ValueError("a PKCE verifier needs 32 to 96 random bytes (43 to 128 characters)")
    return _b64url(secrets.token_bytes(nbytes))


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(verifier)))`` — the only method Databricks accepts."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def make_state() -> str:
    """A fresh, unguessable ``state`` (256 bits) binding the callback to this login."""
    return _b64url(secrets.token_bytes(32))
