"""Just enough JWT (RFC 7519) for token exchange: HS256 sign and verify, standard library only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any


class JWTError(ValueError):
    """The token is malformed, badly signed, or expired."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise JWTError("bad base64url segment") from exc


def _sign(signing_input: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()


def encode(claims: Mapping[str, Any], secret: str) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    segments = [
        _b64encode(json.dumps(header, separators=(",", ":")).encode()),
        _b64encode(json.dumps(dict(claims), separators=(",", ":")).encode()),
    ]
    signing_input = ".".join(segments).encode("ascii")
    return ".".join([*segments, _b64encode(_sign(signing_input, secret))])


def decode(token: str, secret: str, now: float | None = None) -> dict[str, Any]:
    """Verify an HS256 JWT and return its claims. Checks `exp` and `nbf` when present."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("not a JWS compact serialization")
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JWTError("header or claims are not JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise JWTError("only alg HS256 is accepted")
    if not isinstance(claims, dict):
        raise JWTError("claims are not a JSON object")
    expected = _sign(f"{parts[0]}.{parts[1]}".encode("ascii"), secret)
    if not hmac.compare_digest(expected, _b64decode(parts[2])):
        raise JWTError("signature mismatch")
    moment = time.time() if now is None else now
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, (int, float)) or exp <= moment):
        raise JWTError("token expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, (int, float)) or nbf > moment):
        raise JWTError("token not yet valid")
    return claims
