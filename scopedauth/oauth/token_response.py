"""(pure) The one validating parser for token-endpoint answers.

Every answer of a token endpoint — authorization code, refresh, client credentials, token
exchange — comes here as its HTTP status and raw body, and leaves as a
:class:`~scopedauth.tokens.Token` or a :class:`~scopedauth.errors.TokenEndpointError`; authlib
only builds and sends the request (see :mod:`scopedauth.oauth.client`). So a proxy's HTML page,
a token in a 400, a ``token_type`` we cannot use, an ``expires_in`` of ``true`` or a token with an
escape sequence in it can never be stored, and nothing but a typed error ever leaves.

What a token answer must be (RFC 6749 §5.1, RFC 6750 §2.1), and what we add:

* HTTP 200, a UTF-8 JSON object of at most 1 MiB, no key twice, no NaN or Infinity;
* ``access_token``: a b64token (``[A-Za-z0-9-._~+/]+=*``, what a ``Bearer`` header can carry),
  at most 16384 characters;
* ``token_type``: ``Bearer``, in any case;
* ``refresh_token`` (optional): printable ASCII without spaces (VSCHAR), at most 16384;
* ``expires_in`` (optional): a whole number of seconds, 1 to 366 days (a string of digits too:
  some servers quote it);
* ``scope`` (optional): printable ASCII, at most 4096, then :func:`scopedauth.config.parse_scopes`
  (RFC 6749 §3.3 scope-tokens; the same rule as for scopes a user gives).

An error answer (any status, ``error`` present) becomes the error it names; ``invalid_grant``
is :class:`~scopedauth.errors.InvalidGrantError`. ``hide`` lists the secrets of our own request
(a code, a refresh token, a client secret, a subject token): a server echoing one in its
``error`` or ``error_description`` has it cut out before the text is bounded and shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from ..config import Target, parse_scopes
from ..errors import ConfigError, InvalidGrantError, TokenEndpointError
from ..tokens import Token, utcnow

__all__ = [
    "MAX_BODY",
    "MAX_LIFETIME",
    "MAX_SCOPE",
    "MAX_TOKEN",
    "oauth_error",
    "parse_token_answer",
    "parse_token_response",
]

MAX_BODY = 1024 * 1024
MAX_TOKEN = 16384
MAX_SCOPE = 4096
MAX_LIFETIME = 366 * 86400
_ACCESS = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_REFRESH = re.compile(r"[\x21-\x7e]+")
_SCOPE = re.compile(r"[\x20-\x7e]*")  # then config.parse_scopes, the one rule for a scope's characters
_SECONDS = re.compile(r"[0-9]{1,9}")


class _DuplicateKeyError(ValueError):
    """A JSON object naming a key twice: which value a reader takes is up to the reader."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKeyError(f"the answer names {key!r} twice")
        found[key] = value
    return found


def _no_constant(_name: str) -> Any:
    raise ValueError  # NaN, Infinity, -Infinity: not JSON, whatever Python's json module allows


def _invalid(why: str, status: int | None) -> TokenEndpointError:
    return TokenEndpointError("invalid_response", why, status)


def parse_token_answer(
    target: Target,
    status: int,
    body: bytes,
    *,
    token_endpoint: str,
    previous: Token | None = None,
    hide: Iterable[str] = (),
) -> Token:
    """Decode the raw answer strictly, then :func:`parse_token_response`."""
    if len(body) > MAX_BODY:
        raise _invalid("the answer is too large (over 1 MiB)", status)
    try:
        data = json.loads(body.decode("utf-8"), object_pairs_hook=_unique, parse_constant=_no_constant)
    except _DuplicateKeyError as exc:
        raise _invalid(str(exc), status) from None
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        if status >= 500:
            raise TokenEndpointError("server_error", "the token endpoint failed", status) from None
        if 300 <= status < 400:
            raise _invalid("the token endpoint answered with a redirect, which is never followed", status) from None
        raise _invalid("the answer is not JSON", status) from None
    return parse_token_response(
        target, data, token_endpoint=token_endpoint, previous=previous, status=status, hide=hide
    )


def parse_token_response(
    target: Target,
    data: object,
    *,
    token_endpoint: str,
    previous: Token | None = None,
    status: int = 200,
    hide: Iterable[str] = (),
) -> Token:
    """Validate a decoded answer and build the record.

    ``previous`` is the record being refreshed: a server that does not rotate the refresh token
    keeps the old one, and one that omits ``scope`` keeps the granted set.
    """
    if not isinstance(data, Mapping):
        raise _invalid("the token endpoint did not return a JSON object", status)
    if "error" in data:
        raise oauth_error(data.get("error"), data.get("error_description"), status, hide)
    if status >= 500:
        raise TokenEndpointError("server_error", "the token endpoint failed", status)
    if status != 200:
        raise _invalid("a token is taken only from a 200 answer", status)
    access = _string(data, "access_token", _ACCESS, MAX_TOKEN, status)
    if access is None:
        raise _invalid("the answer has no access_token", status)
    token_type = data.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise _invalid("the token_type is not Bearer", status)
    refresh_token = _string(data, "refresh_token", _REFRESH, MAX_TOKEN, status)
    scope = _string(data, "scope", _SCOPE, MAX_SCOPE, status)
    now = utcnow()
    seconds = _lifetime(data.get("expires_in"), status)
    try:
        granted = parse_scopes(scope) if scope else (previous.granted_scopes if previous else target.scopes)
    except ConfigError:
        raise _invalid("the scope holds characters no scope may have", status) from None
    return Token(
        target=target,
        access_token=access,
        expiry=None if seconds is None else now + timedelta(seconds=seconds),
        refresh_token=refresh_token or (previous.refresh_token if previous else None),
        granted_scopes=granted,
        token_endpoint=token_endpoint,
        obtained_at=now,
    )


def _string(data: Mapping[str, Any], name: str, chars: re.Pattern[str], limit: int, status: int) -> str | None:
    """The field's value (None when absent), refused unless a string of ``chars`` within ``limit``.

    The refusal names the field, never the value: it may be a token.
    """
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or chars.fullmatch(value) is None:
        raise _invalid(f"the {name} is not a plausible value", status)
    return value


def _lifetime(value: object, status: int) -> int | None:
    """``expires_in`` as whole seconds in 1 … :data:`MAX_LIFETIME`, or None when absent."""
    if value is None:
        return None
    if isinstance(value, str) and _SECONDS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_LIFETIME:
        raise _invalid("expires_in is not a whole number of seconds from 1 to 366 days", status)
    return value


def oauth_error(error: object, description: object, status: int | None, hide: Iterable[str] = ()) -> TokenEndpointError:
    """The error an OAuth error answer names, with our own secrets cut out of its text."""
    code = str(error) if error else "unknown_error"
    text = str(description) if description else None
    for secret in hide:
        if secret:
            code = code.replace(secret, "<redacted>")
            text = text.replace(secret, "<redacted>") if text else text
    cls = InvalidGrantError if code == "invalid_grant" else TokenEndpointError
    return cls(code, text, status)
