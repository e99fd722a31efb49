"""HostedASGI: the Starlette and FastAPI integration, as middleware plus a dependency.

::

    auth = HostedASGI(host=WS, client_id=ID, client_secret=SECRET, scopes="sql", redirect_uri=...)
    app = FastAPI()
    auth.init_app(app)                    # the middleware: /auth/login, /auth/callback, /auth/logout

    @app.get("/api/me")
    async def me(user: HostedUser = Depends(auth.user)):
        return {"user": user.subject, "token": await user.access_token()}

The middleware serves the three auth routes and, for paths under ``protect`` (none by default),
refuses unauthenticated requests before the app sees them. The dependency gives a view its
visitor; without a session it answers 401 JSON on API routes and a redirect to the login route
elsewhere. Store and token-endpoint calls are blocking, so they run in Starlette's thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import AuthorizationDeniedError, ScopedAuthError
from ..tokens import Token
from .errors import CallbackError, NotSignedInError
from .model import ATTEMPT_TTL, SessionRow
from .service import HostedService
from .web import cross_site_post, error_page, login_location, safe_return_to

__all__ = ["HostedASGI", "HostedMiddleware", "HostedUser"]

log = logging.getLogger("scopedauth.hosted")


class HostedUser:
    """The signed-in visitor of one request. Holds the cookie, never a token."""

    def __init__(self, service: HostedService, cookie: str, row: SessionRow) -> None:
        self._service, self._cookie, self._row = service, cookie, row
        self._token: Token | None = None
        info = service.session_for(cookie, row)
        self.subject, self.tenant, self.scopes = info.subject, info.tenant, info.scopes

    def __repr__(self) -> str:
        return f"HostedUser(subject={self.subject!r}, tenant={self.tenant!r})"

    async def token(self) -> Token:
        """The visitor's fresh token; the row read by the dependency saves a second store read."""
        if self._token is None:
            self._token = await run_in_threadpool(self._service.token_for, self._cookie, self._row)
        return self._token

    async def access_token(self) -> str:
        return (await self.token()).access_token

    def workspace_client(self) -> Any:
        """A databricks-sdk ``WorkspaceClient`` acting as this visitor (its calls are blocking)."""
        from .sdk import workspace_client

        return workspace_client(self.tenant, lambda: self._service.token_for(self._cookie))


class SignInRequiredError(Exception):
    """Raised by the dependency; the middleware turns it into the redirect or 401 it carries."""

    def __init__(self, response: Response) -> None:
        super().__init__("not signed in")
        self.response = response


class HostedASGI:
    def __init__(self, *, url_prefix: str = "/auth", api_prefix: str = "/api/", **options: Any) -> None:
        self.service = HostedService(**options)
        self.url_prefix = url_prefix.rstrip("/")
        self.api_prefix = api_prefix
        self._routes: dict[str, Callable[[Request], Awaitable[Response]]] = {
            f"{self.url_prefix}/login": self._login,
            f"{self.url_prefix}/callback": self._callback,
            f"{self.url_prefix}/logout": self._logout,
        }

    def __repr__(self) -> str:
        return f"HostedASGI({self.service!r})"

    def init_app(self, app: Any, protect: tuple[str, ...] = ()) -> None:
        """Add :class:`HostedMiddleware` to a Starlette or FastAPI app (before it starts)."""
        app.add_middleware(HostedMiddleware, auth=self, protect=protect)
        app.add_exception_handler(SignInRequiredError, _answer)
        app.add_exception_handler(ScopedAuthError, self._failed)

    # -- the dependency ---------------------------------------------------------------------
    async def user(self, request: Request) -> HostedUser:
        """FastAPI ``Depends(auth.user)``: this request's visitor, or a redirect / 401."""
        cookie = request.cookies.get(self.service.cookies.session_name) or ""
        try:
            row = await run_in_threadpool(self.service.lookup, cookie)
        except NotSignedInError as exc:
            raise SignInRequiredError(self.unauthenticated(request, exc)) from None
        return HostedUser(self.service, cookie, row)

    def unauthenticated(self, request: Request, exc: NotSignedInError) -> Response:
        accept = request.headers.get("accept", "")
        if request.url.path.startswith(self.api_prefix) or ("json" in accept and "html" not in accept):
            return JSONResponse({"error": "unauthenticated", "message": str(exc)}, status_code=401)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(login_location(self.url_prefix, here), status_code=302)

    async def _failed(self, request: Request, exc: Exception) -> Response:
        """A view's token call failed: sign in again (dead grant), or 503 (workspace or store down)."""
        if isinstance(exc, NotSignedInError):
            return self.unauthenticated(request, exc)
        log.warning("scopedauth: %s", exc)
        message = "Databricks or the session store could not be reached; try again in a moment."
        return JSONResponse({"error": "unavailable", "message": message}, status_code=503)

    async def logout_all(self, subject: str) -> int:
        return int(await run_in_threadpool(self.service.logout_all, subject))

    # -- the routes -------------------------------------------------------------------------
    async def _login(self, request: Request) -> Response:
        url, browser = await run_in_threadpool(self.service.begin_login, request.query_params.get("next", "/"))
        response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
        response.set_cookie(self.service.cookies.login_name, browser, **self.service.cookies.attributes(ATTEMPT_TTL))
        return response

    async def _callback(self, request: Request) -> Response:
        c = self.service.cookies
        try:
            cookie, return_to = await run_in_threadpool(
                self.service.finish_login, request.cookies.get(c.login_name), dict(request.query_params)
            )
        except CallbackError as exc:
            return HTMLResponse(error_page("Sign-in failed", str(exc)), status_code=400)
        except AuthorizationDeniedError as exc:
            return HTMLResponse(error_page("Sign-in refused", str(exc)), status_code=403)
        except ScopedAuthError:
            message = "The workspace could not complete the sign-in; try again."
            return HTMLResponse(error_page("Sign-in failed", message), status_code=502)
        old = request.cookies.get(c.session_name)
        if old:
            await run_in_threadpool(self.service.logout, old)
        response = RedirectResponse(return_to, status_code=302, headers={"Cache-Control": "no-store"})
        response.set_cookie(c.session_name, cookie, **c.attributes(self.service.session_lifetime))
        response.delete_cookie(c.login_name, path="/", secure=c.secure, httponly=True, samesite="lax")
        return response

    async def _logout(self, request: Request) -> Response:
        if request.method != "POST":
            return JSONResponse({"error": "method_not_allowed"}, status_code=405)
        headers = request.headers
        if cross_site_post(headers.get("origin"), headers.get("sec-fetch-site"), self.service.origin):
            return HTMLResponse(error_page("Sign-out refused", "Sign out from this app's own pages."), status_code=403)
        c = self.service.cookies
        await run_in_threadpool(self.service.logout, request.cookies.get(c.session_name))
        after = request.query_params.get("next") or "/"
        response = RedirectResponse(after if safe_return_to(after) == after else "/", status_code=303)
        response.delete_cookie(c.session_name, path="/", secure=c.secure, httponly=True, samesite="lax")
        return response


class HostedMiddleware:
    """Pure ASGI middleware: the auth routes, ``protect``-ed prefixes, and the dependency's answers."""

    def __init__(self, app: ASGIApp, auth: HostedASGI, protect: tuple[str, ...] = ()) -> None:
        self.app, self.auth, self.protect = app, auth, protect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        route = self.auth._routes.get(scope["path"])
        if route is not None:
            try:
                response = await route(request)
            except ScopedAuthError as exc:  # outside the app's exception handlers: answer here
                response = await self.auth._failed(request, exc)
            await response(scope, receive, send)
            return
        if self.protect and scope["path"].startswith(self.protect):
            try:
                await self.auth.user(request)
            except SignInRequiredError as refused:
                await refused.response(scope, receive, send)
                return
        try:
            await self.app(scope, receive, send)
        except SignInRequiredError as refused:
            await refused.response(scope, receive, send)


async def _answer(_request: Request, exc: Exception) -> Response:
    """Exception handler: the redirect or 401 a :class:`SignInRequiredError` carries."""
    return exc.response if isinstance(exc, SignInRequiredError) else JSONResponse({"error": "internal"}, 500)
