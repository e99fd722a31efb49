"""Encryption at rest: an operator's keyring and AES-GCM bound to the row it belongs to.

The keyring is ``kid:base64`` entries separated by commas (``SCOPEDAUTH_HOSTED_KEYS``). The
first key encrypts; every key decrypts, so a new key goes first and the old ones stay until
``scopedauth hosted rotate-keys`` has re-encrypted every row. Each ciphertext is bound by
AES-GCM's associated data to its row (the hash of the id, tenant, subject, client): a
ciphertext copied into another user's row fails authentication instead of decrypting.

Malformed or missing keys are a :class:`ConfigError` when the keyring is built, so a replica
with a bad key refuses to start instead of failing at a visitor's first request.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Mapping

from ..errors import ConfigError, StorageError

__all__ = ["KEYS_ENV", "Keyring", "associated_data", "generate_key"]

KEYS_ENV = "SCOPEDAUTH_HOSTED_KEYS"
_KID = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # used with fullmatch: `$` would allow a final newline
_NONCE_BYTES = 12
_KEY_SIZES = (16, 24, 32)


def associated_data(*parts: str) -> bytes:
    """The bytes AES-GCM authenticates with a ciphertext: the row's identity, unambiguously joined."""
    return json.dumps(list(parts), separators=(",", ":")).encode("utf-8")


def generate_key(kid: str | None = None) -> str:
    """A new ``kid:base64`` entry holding a random 256-bit key (``scopedauth hosted keygen``)."""
    kid = kid or "k" + secrets.token_hex(4)
    if not _KID.fullmatch(kid):
        raise ConfigError(f"a key id is 1 to 64 characters of [A-Za-z0-9_.-], not {kid!r}")
    return f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode('ascii')}"


class Keyring:
    """Parsed keys; ``encrypt`` uses the first, ``decrypt`` any. The repr never shows a key."""

    def __init__(self, spec: str | None) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not spec or not spec.strip():
            raise ConfigError(
                f"no encryption keys: set {KEYS_ENV} (or pass keys=) to one or more comma-separated "
                "kid:base64 entries; `scopedauth hosted keygen` prints one"
            )
        self._keys: dict[str, AESGCM] = {}
        for n, entry in enumerate(spec.split(","), start=1):
            kid, sep, material = entry.strip().partition(":")
            if not sep or not _KID.fullmatch(kid):
                raise ConfigError(f"key {n} of the keyring is not kid:base64 (the key id is [A-Za-z0-9_.-]{{1,64}})")
            try:
                raw = base64.b64decode(material.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError(f"key {kid!r} of the keyring is not valid base64") from None
            if len(raw) not in _KEY_SIZES:
                raise ConfigError(f"key {kid!r} is {len(raw)} bytes; AES-GCM keys are 16, 24 or 32 bytes")
            if kid in self._keys:
                raise ConfigError(f"key id {kid!r} appears twice in the keyring")
            self._keys[kid] = AESGCM(raw)
        self.primary = next(iter(self._keys))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Keyring:
        return cls((os.environ if env is None else env).get(KEYS_ENV))

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[str, str]:
        """``(kid, base64(nonce || ciphertext))`` under the first key; a fresh random nonce each time."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._keys[self.primary].encrypt(nonce, plaintext, aad)
        return self.primary, base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, kid: str, blob: str, aad: bytes) -> bytes:
        """The plaintext, or :class:`StorageError` for an unknown key or a ciphertext that fails
        authentication (tampered, or copied from another row)."""
        from cryptography.exceptions import InvalidTag

        key = self._keys.get(kid)
        if key is None:
            raise StorageError(f"a stored row is encrypted under key {kid!r}, which is not in the keyring")
        try:
            raw = base64.b64decode(blob, validate=True)
            return key.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
        except (binascii.Error, ValueError, InvalidTag):
            raise StorageError("a stored row failed authentication (tampered, or not this row's)") from None

    def __repr__(self) -> str:
        return f"Keyring(kids={list(self._keys)!r})"
