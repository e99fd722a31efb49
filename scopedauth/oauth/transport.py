"""HTTP plumbing shared by discovery, the token endpoint and ``scopedauth call``.

Corporate networks: ``HTTPS_PROXY``/``NO_PROXY`` are honoured (requests reads them) except for
loopback, which never goes through a proxy; a CA bundle comes from ``--ca-bundle`` /
``SCOPEDAUTH_CA_BUNDLE`` or requests' own ``REQUESTS_CA_BUNDLE``. Retries are bounded and
deliberate: connection failures (the request never left) and 429 are retried for every call;
5xx only for calls that change nothing on the server. A token request that may have reached
the server is never replayed, because a used authorization code or a rotated refresh token
cannot be used twice (a replayed refresh token can revoke the whole grant).

Every response is logged at DEBUG on the ``scopedauth`` logger (``--debug``) as its method, its
URL without query or fragment, and its status: never a body or a header, where tokens live.

``requests`` is imported lazily: the hot path of ``scopedauth token`` never needs it.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .. import urls
from ..errors import ConfigError, NetworkError, TokenEndpointError

if TYPE_CHECKING:
    import requests

__all__ = [
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "RETRY_AFTER_CAP",
    "configure",
    "network_error",
    "new_session",
    "post_kwargs",
    "request_kwargs",
]

log = logging.getLogger("scopedauth")
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
_NO_PROXY: dict[str, str | None] = {"http": None, "https": None, "all": None}
_ca_bundle: str | None = None


def configure(*, ca_bundle: str | None = None) -> None:
    """Process-wide settings from the CLI (``--ca-bundle``)."""
    global _ca_bundle
    _ca_bundle = ca_bundle


def _verify() -> str | bool:
    """The CA bundle to trust (``--ca-bundle``, else ``SCOPEDAUTH_CA_BUNDLE``), else requests' default.

    requests' default already reads ``REQUESTS_CA_BUNDLE``. A path that does not exist is a
    :class:`ConfigError` here: requests would raise a bare ``OSError`` deep inside a call.
    """
    bundle = _ca_bundle or os.environ.get("SCOPEDAUTH_CA_BUNDLE")
    if not bundle:
        return True
    if not os.path.exists(bundle):
        raise ConfigError(f"the CA bundle {bundle} does not exist (--ca-bundle / SCOPEDAUTH_CA_BUNDLE)")
    return bundle


def request_kwargs(url: str) -> dict[str, Any]:
    """Per-request keyword arguments: timeouts, CA bundle, and no proxy for loopback."""
    kwargs: dict[str, Any] = {"timeout": (CONNECT_TIMEOUT, READ_TIMEOUT)}
    verify = _verify()
    if verify is not True:
        kwargs["verify"] = verify
    if urls.is_loopback_url(url):
        kwargs["proxies"] = dict(_NO_PROXY)
    return kwargs


def post_kwargs(url: str) -> dict[str, Any]:
    """:func:`request_kwargs` for a POST to an OAuth endpoint: never follow a redirect."""
    return {**request_kwargs(url), "allow_redirects": False}


#: longest Retry-After we honour; a server asking for more gets a NetworkError sooner instead
RETRY_AFTER_CAP = 10.0


def _retry(idempotent: bool) -> Any:
    """The retry policy: what may be sent twice, how often, how long to wait.

    ``read=0`` and ``other=0``: a request that reached the server is never re-sent because its
    answer got lost. ``status_forcelist``: 429 always (the server refused before doing
    anything); 5xx only for ``idempotent`` calls, because a 5xx from a token endpoint may come
    after the code or refresh token was consumed. Retry-After is honoured up to
    :data:`RETRY_AFTER_CAP` seconds, so a login never hangs on a server asking for an hour.
    """
    from urllib3.util.retry import Retry

    class BoundedRetry(Retry):
        def get_retry_after(self, response: Any) -> float | None:
            after: float | None = super().get_retry_after(response)
            return None if after is None else min(after, RETRY_AFTER_CAP)

    return BoundedRetry(
        total=4,
        connect=3,
        read=0,  # a request that reached the server is not sent again
        redirect=0,
        status=3,
        other=0,
        backoff_factor=0.3,
        backoff_max=4.0,
        status_forcelist=(429, 500, 502, 503, 504) if idempotent else (429,),
        allowed_methods=None,  # status retries decided by status_forcelist above
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def new_session(
    session: requests.Session | None = None, *, idempotent: bool = True, endpoint: str | None = None
) -> requests.Session:
    """A requests session (or the given one, e.g. authlib's) with our retry policy mounted.

    ``endpoint`` names an OAuth endpoint the session POSTs to (``token endpoint``): then any
    redirect is a :class:`TokenEndpointError` before requests could follow it. A 307 or 308
    would send the same body (a code, a refresh token, a client secret) wherever ``Location``
    points, plain http included; RFC 6749 gives a token endpoint no reason to redirect.
    """
    import requests
    from requests.adapters import HTTPAdapter

    session = session if session is not None else requests.Session()
    adapter = HTTPAdapter(max_retries=_retry(idempotent))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = f"scopedauth/{_version()}"
    session.hooks["response"].append(_log_response)
    if endpoint is not None:
        session.hooks["response"].append(_refuse_redirects(endpoint))
    return session


def _refuse_redirects(endpoint: str) -> Any:
    """A response hook raising on any 3xx: requests runs hooks before it resolves redirects."""

    def hook(resp: Any, *_args: Any, **_kwargs: Any) -> Any:
        if 300 <= resp.status_code < 400:
            where = resp.headers.get("location")
            resp.close()
            raise TokenEndpointError(
                "redirect",
                f"the {endpoint} answered with a redirect"
                + (f" to {urls.shown(where)}" if where else "")
                + "; scopedauth never follows one from an OAuth endpoint (it would resend the request's secrets)",
                resp.status_code,
            )
        return resp

    return hook


def bare_url(url: str) -> str:
    """``url`` without query, fragment or user info: what may be logged."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _log_response(resp: Any, *_args: Any, **_kwargs: Any) -> None:
    """requests response hook: ``POST https://…/oidc/v1/token → 200`` at DEBUG, nothing else."""
    if log.isEnabledFor(logging.DEBUG):
        method = getattr(resp.request, "method", None) or "?"
        log.debug("%s %s → %s", method, bare_url(resp.url or ""), resp.status_code)


def _version() -> str:
    from .._version import __version__

    return __version__


def _bundle_advice() -> str:
    """What to do about a certificate we could not verify, naming the bundle in use and its source."""
    fix = (
        "pass --ca-bundle FILE (or set SCOPEDAUTH_CA_BUNDLE) holding the CA that signed the server's "
        "or your proxy's certificate"
    )
    for source, bundle in (
        ("--ca-bundle", _ca_bundle),
        ("SCOPEDAUTH_CA_BUNDLE", os.environ.get("SCOPEDAUTH_CA_BUNDLE")),
        ("REQUESTS_CA_BUNDLE", os.environ.get("REQUESTS_CA_BUNDLE")),
        ("CURL_CA_BUNDLE", os.environ.get("CURL_CA_BUNDLE")),
    ):
        if bundle:
            return f"the CA bundle {bundle} (from {source}) does not vouch for this server; {fix}"
    return f"if a corporate proxy inspects TLS, {fix}"


def _timed_out(exc: Exception) -> bool:
    """A read timeout arrives as ConnectionError(MaxRetryError(reason=ReadTimeoutError)) once retries end."""
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, Urllib3Timeout)


def network_error(exc: Exception, url: str) -> NetworkError:
    """Turn a requests exception into a NetworkError that says what to check."""
    import requests

    host = urlsplit(url).netloc or url
    if isinstance(exc, requests.exceptions.SSLError):
        hint = "TLS verification failed: " + _bundle_advice()
    elif isinstance(exc, requests.exceptions.ProxyError):
        hint = "the proxy refused the connection: check HTTPS_PROXY / NO_PROXY"
    elif isinstance(exc, requests.exceptions.Timeout) or _timed_out(exc):
        hint = "the server did not answer in time"
    elif isinstance(exc, requests.exceptions.RetryError):
        hint = "the server kept answering with errors after several retries"
    else:
        hint = "check the host name, your network, and HTTPS_PROXY / NO_PROXY"
    return NetworkError(f"cannot reach {host}: {hint} ({type(exc).__name__})")
