"""The authorization response, judged without any network, server or browser.

The listener and the ``--paste`` flow both end here, so one set of rules decides what counts:
a query must be a well-formed ``application/x-www-form-urlencoded`` string of bounded size,
``state`` must equal ours (constant-time), and then either ``code`` or ``error`` decides. A value
holding a control character (C0, DEL, C1) or longer than :data:`MAX_VALUE` is refused outright.

A pasted address loses its ``#fragment`` here: the authorization-code flow never puts anything
there, and a fragment saying ``access_token=…`` is what an implicit-grant client (authlib's
``fetch_token`` among them) would store as a token the server never issued to us.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from ..errors import AuthorizationDeniedError, AuthorizationError
from ..text import has_controls

__all__ = [
    "MAX_QUERY",
    "MAX_VALUE",
    "Callback",
    "IgnoredCallbackError",
    "Verdict",
    "judge",
    "parse_pasted",
    "parse_query",
    "redirect_path",
]

MAX_QUERY = 8192
#: the longest code, state, error or description taken; longer is not a plausible value
MAX_VALUE = 4096


class Verdict(enum.Enum):
    """Why :func:`judge` ignored a request: it does not end the login, the listener keeps waiting."""

    STRAY = "stray"  # no code, no error: not a callback at all
    FORGED = "forged"  # state missing or wrong: someone else's request


class IgnoredCallbackError(AuthorizationError):
    """A request to the redirect path that is not this login's answer; :attr:`verdict` says why."""

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict


@dataclass(frozen=True)
class Callback:
    code: str | None = field(default=None, repr=False)  # an authorization code is a credential
    state: str | None = field(default=None, repr=False)
    error: str | None = None
    error_description: str | None = None


def _one(values: dict[str, list[str]], name: str) -> str | None:
    got = values.get(name)
    if not got:
        return None
    if len(got) > 1:
        raise AuthorizationError(f"the callback repeats {name!r}; refusing an ambiguous response")
    return got[0]


def parse_query(query: str) -> Callback:
    """Parse the callback's query string strictly; AuthorizationError for anything malformed."""
    if len(query) > MAX_QUERY:
        raise AuthorizationError(f"the callback query is longer than {MAX_QUERY} bytes")
    try:
        # not strict (parse_qs's default): browsers and servers leave empty pieces (``a=1&&b=2``)
        values = parse_qs(query, keep_blank_values=True, max_num_fields=50)
    except ValueError as exc:
        raise AuthorizationError(f"the callback query is malformed ({exc})") from None
    for name in ("code", "state", "error", "error_description"):
        value = _one(values, name)
        if value is not None and (len(value) > MAX_VALUE or has_controls(value)):
            raise AuthorizationError(f"the callback's {name!r} is not a plausible value")
    return Callback(
        code=_one(values, "code") or None,
        state=_one(values, "state"),
        error=_one(values, "error") or None,
        error_description=_one(values, "error_description"),
    )


def judge(callback: Callback, expected_state: str) -> str:
    """The authorization code, or a reason this request does not end the login.

    Returns the code. Raises :class:`AuthorizationDeniedError` for an error redirect that
    carries our state. Raises :class:`IgnoredCallbackError`, whose ``verdict`` says why, for
    requests to ignore (stray or forged).
    """
    if callback.error is not None:
        _check_state(callback, expected_state)
        raise AuthorizationDeniedError(callback.error, callback.error_description)
    if not callback.code:
        raise IgnoredCallbackError("this request is not an authorization response", Verdict.STRAY)
    _check_state(callback, expected_state)
    return callback.code


def _check_state(callback: Callback, expected_state: str) -> None:
    """FORGED unless the callback carries exactly our state (compared in constant time).

    surrogatepass: a pasted line read under surrogateescape may hold lone surrogates; they must
    make a mismatch, not a UnicodeEncodeError.
    """
    given = callback.state
    if given is None or not hmac.compare_digest(_utf8(given), _utf8(expected_state)):
        raise IgnoredCallbackError(
            "the state does not match this login (a stale tab or a forged request)", Verdict.FORGED
        )


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def redirect_path(redirect_uri: str) -> str:
    return urlsplit(redirect_uri).path or "/"


def parse_pasted(text: str, redirect_uri: str, expected_state: str) -> tuple[str, str]:
    """Check a pasted browser address against our redirect URI and state.

    Returns ``(callback_url, code)``, the address without its fragment; raises
    AuthorizationError with a hint for anything else.
    """
    pasted = text.strip().partition("#")[0]
    not_an_address = AuthorizationError(
        f"that is not the address from the browser's address bar; paste the whole URL starting with {redirect_uri}"
    )
    want = urlsplit(redirect_uri)
    try:  # urlsplit and .port raise ValueError for a bad port, an unclosed "[", an NFKC-unsafe host
        parts = urlsplit(pasted)
        port = parts.port
    except ValueError:
        raise not_an_address from None
    if not parts.scheme or not parts.netloc:
        raise not_an_address
    same_host = parts.hostname == want.hostname and port == want.port
    if parts.scheme != want.scheme or not same_host or (parts.path or "/") != (want.path or "/"):
        raise AuthorizationError(f"that address does not start with this login's redirect URI {redirect_uri}")
    callback = parse_query(parts.query)
    try:
        code = judge(callback, expected_state)
    except IgnoredCallbackError as exc:
        if exc.verdict is Verdict.STRAY:
            raise AuthorizationError(
                "that address carries no authorization code; sign in first, then copy it"
            ) from None
        raise AuthorizationError(str(exc)) from None
    return pasted, code
