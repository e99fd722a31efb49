"""``BearerAuth``: one object that authenticates requests, httpx (sync and async) and aiohttp.

- requests: ``requests.get(url, auth=BearerAuth(…))`` calls it with the PreparedRequest;
- httpx: ``httpx.Client(auth=…)`` / ``httpx.AsyncClient(auth=…)``: it *is* an ``httpx.Auth``
  (its sync flow asks :func:`~scopedauth.grants.session.get_token`, its async flow
  :func:`~scopedauth.grants.aio.aget_token`, which never blocks the loop);
- aiohttp (≥ 3.12): ``aiohttp.ClientSession(middlewares=[BearerAuth(…)])``, a client middleware.

The same rules everywhere:

- a 401 to a request that carried our token → renew once (another process may already have)
  and retry once; a second 401 goes back to the caller;
- a request body that was a stream is never replayed (it was consumed by the first send);
- the token never goes over plain http except to loopback, and never follows a redirect to
  another origin (requests and httpx drop it themselves; for aiohttp, which runs middlewares on
  every hop, this module remembers where the previous hop was redirected from).

httpx is imported when this module is (so ``BearerAuth`` can subclass ``httpx.Auth``), and only
if it is installed; ``import scopedauth`` imports this module only when ``BearerAuth`` is used.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ..config import StorageKind, Target, TargetOptions
from ..errors import ConfigError
from ..grants import aio, session
from ..grants.session import Say
from ..urls import is_loopback_host

if TYPE_CHECKING:
    from typing import Unpack

    import aiohttp
    import httpx
    import requests

    from ..storage.store import TokenStore

    _Base = httpx.Auth
else:
    try:
        from httpx import Auth as _Base
    except ImportError:  # httpx is optional: then BearerAuth is a plain class
        _Base = object

__all__ = ["BearerAuth"]

_REDIRECTS = (301, 302, 303, 307, 308)
#: per task: (origin that answered a redirect, where it pointed), so aiohttp's next hop is known
_REDIRECTED: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "scopedauth_redirect", default=None
)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"


def _check_transport(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" and not is_loopback_host(parts.hostname):
        raise ConfigError(f"refusing to send a token over {parts.scheme or 'an unknown scheme'} to {parts.hostname}")


class BearerAuth(_Base):
    """The target's bearer token on every request; on a 401, renew once and retry once.

    ``BearerAuth(host=…, scopes=…)`` takes :func:`scopedauth.get_token`'s keywords and works as
    requests' ``auth=``, httpx's ``auth=`` (Client and AsyncClient) and an aiohttp client
    middleware. The retry happens only when the refused request carried our token (not after a
    redirect to another host) and only once: a second 401 is returned to the caller.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        target: Target | None = None,
        *,
        store: TokenStore | StorageKind | None = None,
        interactive: bool = False,
        say: Say | None = None,
        **options: Unpack[TargetOptions],
    ) -> None:
        """Args:
        target: a resolved :class:`~scopedauth.Target`; else one is resolved from ``options``.
        store: a TokenStore or a storage kind (default ``SCOPEDAUTH_STORAGE``, else the keyring).
        interactive: log in through the browser when nothing usable is stored.
        say: where that login talks to the person (default: stderr).
        **options: ``host``, ``profile``, ``account_id``, ``client_id``, ``scopes``,
            ``refresh_token`` (:class:`~scopedauth.TargetOptions`).
        """
        self._target = target
        self._store = store
        self._interactive = interactive
        self._say = say
        self._options = options

    def _token(self) -> str:
        return session.get_token(
            self._target, store=self._store, interactive=self._interactive, say=self._say, **self._options
        ).access_token

    async def _atoken(self) -> str:
        token = await aio.aget_token(
            self._target, store=self._store, interactive=self._interactive, say=self._say, **self._options
        )
        return token.access_token

    def _renew(self, rejected: str) -> str:
        return session.renew(self._target, rejected=rejected, store=self._store, **self._options).access_token

    async def _arenew(self, rejected: str) -> str:
        token = await aio.arenew(self._target, rejected=rejected, store=self._store, **self._options)
        return token.access_token

    # --- requests, and aiohttp (a middleware is called with the request and the next handler)

    def __call__(self, request: Any, handler: Any = None) -> Any:
        if handler is not None:
            return self._middleware(request, handler)
        return self._requests(request)

    def _requests(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        _check_transport(request.url or "")
        request.headers["Authorization"] = f"Bearer {self._token()}"
        request.register_hook("response", self._retry_on_401)  # type: ignore[no-untyped-call]
        return request

    def _retry_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, "_scopedauth_retried", False):
            return response
        sent = request.headers.get("Authorization") or ""
        if not sent.startswith("Bearer "):
            return response  # our header was stripped (cross-host redirect): not ours to retry
        if request.body is not None and not isinstance(request.body, (bytes, str)):
            return response  # a file, generator or iterator was consumed by the first send
        try:
            fresh = self._renew(sent.removeprefix("Bearer "))
        finally:
            response.content  # noqa: B018  (drain so the connection can be reused)
            response.close()  # also when renewing failed: the caller gets an error, not this response
        retry = request.copy()
        retry.headers["Authorization"] = f"Bearer {fresh}"
        retry._scopedauth_retried = True  # type: ignore[attr-defined]
        new: requests.Response = response.connection.send(retry, **kwargs)
        new.history.append(response)
        new.request = retry
        return new

    async def _middleware(
        self, request: aiohttp.ClientRequest, handler: Callable[[aiohttp.ClientRequest], Awaitable[Any]]
    ) -> aiohttp.ClientResponse:
        url = str(request.url)
        came_from = _REDIRECTED.get()
        _REDIRECTED.set(None)
        if came_from is not None and came_from[1] == url and came_from[0] != _origin(url):
            return await self._follow(request, handler, url, carry=False)  # redirected off-origin: no token
        _check_transport(url)
        token = await self._atoken()
        request.headers["Authorization"] = f"Bearer {token}"
        response = await self._follow(request, handler, url, carry=True)
        body = request.body
        if response.status != 401 or getattr(body, "consumed", False):
            return response
        response.release()  # before renewing: a failed renewal raises, and must not leak the connection
        fresh = await self._arenew(token)
        request.headers["Authorization"] = f"Bearer {fresh}"
        return await self._follow(request, handler, url, carry=True)

    @staticmethod
    async def _follow(
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
        url: str,
        *,
        carry: bool,
    ) -> aiohttp.ClientResponse:
        if not carry:
            request.headers.pop("Authorization", None)
        response = await handler(request)
        location = response.headers.get("Location")
        if response.status in _REDIRECTS and location:
            origin = _origin(url) if carry else "!"  # once off-origin, every later hop stays bare
            _REDIRECTED.set((origin, urljoin(url, location)))
        return response

    # --- httpx

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        _check_transport(str(request.url))
        token = self._token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if self._httpx_retry(request, response):
            request.headers["Authorization"] = f"Bearer {self._renew(token)}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        _check_transport(str(request.url))
        token = await self._atoken()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if self._httpx_retry(request, response):
            request.headers["Authorization"] = f"Bearer {await self._arenew(token)}"
            yield request

    @staticmethod
    def _httpx_retry(request: httpx.Request, response: httpx.Response) -> bool:
        """A 401 to this very request (not a redirect target's) whose body can be sent again."""
        replayable = hasattr(request, "_content")  # httpx keeps bytes bodies; streams it does not
        return response.status_code == 401 and response.request is request and replayable

    def __repr__(self) -> str:
        return f"BearerAuth(target={self._target.key if self._target else None!r})"
