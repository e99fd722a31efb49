"""HTTP plumbing shared by discovery, the token endpoint and ``scopedauth call``.

Corporate networks: ``HTTPS_PROXY``/``NO_PROXY`` are honoured (requests reads them) except for
loopback, which never goes through a proxy; a CA bundle comes from ``--ca-bundle`` /
``SCOPEDAUTH_CA_BUNDLE`` or requests' own ``REQUESTS_CA_BUNDLE``. Retries are bounded and
deliberate: connection failures (the request never left) and 429 are retried for every call;
5xx only for calls that change nothing on the server. A token request that may have reached
the server is never replayed, because a used authorization code or a rotated refresh token
cannot be used twice (a replayed refresh token can revoke the whole grant).

``requests`` is imported lazily: the hot path of ``scopedauth token`` never needs it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .config import is_loopback_host
from .errors import NetworkError

if TYPE_CHECKING:
    import requests

__all__ = ["CONNECT_TIMEOUT", "READ_TIMEOUT", "configure", "network_error", "new_session", "request_kwargs"]

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
_NO_PROXY: dict[str, str | None] = {"http": None, "https": None, "all": None}
_ca_bundle: str | None = None


def configure(*, ca_bundle: str | None = None) -> None:
    """Process-wide settings from the CLI (``--ca-bundle``)."""
    global _ca_bundle
    _ca_bundle = ca_bundle


def _verify() -> str | bool:
    bundle = _ca_bundle or os.environ.get("SCOPEDAUTH_CA_BUNDLE")
    return bundle or True


def request_kwargs(url: str) -> dict[str, Any]:
    """Per-request keyword arguments: timeouts, CA bundle, and no proxy for loopback."""
    kwargs: dict[str, Any] = {"timeout": (CONNECT_TIMEOUT, READ_TIMEOUT)}
    verify = _verify()
    if verify is not True:
        kwargs["verify"] = verify
    if is_loopback_host(urlsplit(url).hostname):
        kwargs["proxies"] = dict(_NO_PROXY)
    return kwargs


def _retry(idempotent: bool) -> Any:
    from urllib3.util.retry import Retry

    return Retry(
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


def new_session(session: requests.Session | None = None, *, idempotent: bool = True) -> requests.Session:
    """A requests session (or the given one, e.g. authlib's) with our retry policy mounted."""
    import requests
    from requests.adapters import HTTPAdapter

    session = session if session is not None else requests.Session()
    adapter = HTTPAdapter(max_retries=_retry(idempotent))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = f"scopedauth/{_version()}"
    return session


def _version() -> str:
    from . import __version__

    return __version__


def network_error(exc: Exception, url: str) -> NetworkError:
    """Turn a requests exception into a NetworkError that says what to check."""
    import requests

    host = urlsplit(url).netloc or url
    if isinstance(exc, requests.exceptions.SSLError):
        hint = "TLS verification failed: if a corporate proxy inspects TLS, pass --ca-bundle or set REQUESTS_CA_BUNDLE"
    elif isinstance(exc, requests.exceptions.ProxyError):
        hint = "the proxy refused the connection: check HTTPS_PROXY / NO_PROXY"
    elif isinstance(exc, requests.exceptions.Timeout):
        hint = "the server did not answer in time"
    elif isinstance(exc, requests.exceptions.RetryError):
        hint = "the server kept answering with errors after several retries"
    else:
        hint = "check the host name, your network, and HTTPS_PROXY / NO_PROXY"
    return NetworkError(f"cannot reach {host}: {hint} ({type(exc).__name__})")
