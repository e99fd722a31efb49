"""HostedAuth: the Flask integration (``auth.init_app(app)``, ``@auth.login_required``).

``init_app`` adds ``/auth/login``, ``/auth/callback`` and ``/auth/logout`` (POST). A view
wrapped in :meth:`HostedAuth.login_required` runs only for a signed-in visitor; others are
redirected to the login route, or get a 401 JSON answer on API routes (``/api/`` by default,
or any request that accepts JSON and not HTML).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, jsonify, redirect, request
from werkzeug.wrappers import Response

from ..errors import AuthorizationDeniedError, ScopedAuthError
from ..tokens import Token
from .errors import CallbackError, NotSignedInError
from .keys import Keyring
from .model import ATTEMPT_TTL, HostedStore, SessionRow
from .service import DEFAULT_SESSION_LIFETIME, HostedService, SessionInfo
from .web import CookiePolicy, cross_site_post, error_page, login_location, safe_return_to

__all__ = ["HostedAuth"]

F = TypeVar("F", bound=Callable[..., Any])
UNAVAILABLE = "Databricks or the session store could not be reached; try again in a moment."


class HostedAuth:
    def __init__(
        self,
        app: Flask | None = None,
        *,
        host: str,
        client_id: str,
        client_secret: str,
        scopes: str | list[str],
        redirect_uri: str,
        store: str | HostedStore | None = None,
        keys: str | Keyring | None = None,
        session_lifetime: float = DEFAULT_SESSION_LIFETIME,
        lease: float = 30.0,
        url_prefix: str = "/auth",
        api_prefix: str = "/api/",
    ) -> None:
        self.service = HostedService(
            host=host,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            redirect_uri=redirect_uri,
            store=store,
            keys=keys,
            session_lifetime=session_lifetime,
            lease=lease,
        )
        self.url_prefix = url_prefix.rstrip("/")
        self.api_prefix = api_prefix
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"HostedAuth({self.service!r})"

    # -- wiring ---------------------------------------------------------------------------
    def init_app(self, app: Flask) -> None:
        p = self.url_prefix
        app.add_url_rule(f"{p}/login", "scopedauth_login", self._login, methods=["GET"])
        app.add_url_rule(f"{p}/callback", "scopedauth_callback", self._callback, methods=["GET"])
        app.add_url_rule(f"{p}/logout", "scopedauth_logout", self._logout, methods=["POST"])
        app.register_error_handler(NotSignedInError, self._not_signed_in)
        app.register_error_handler(ScopedAuthError, self._unavailable)
        app.extensions["scopedauth_hosted"] = self

    @property
    def _cookies(self) -> CookiePolicy:
        return self.service.cookies

    def _login(self) -> Response:
        url, browser = self.service.begin_login(request.args.get("next", "/"))
        response = redirect(url, 302)
        response.set_cookie(self._cookies.login_name, browser, **self._cookies.attributes(ATTEMPT_TTL))
        response.headers["Cache-Control"] = "no-store"
        return response

    def _callback(self) -> Response | tuple[str, int]:
        cookies = self._cookies
        try:
            cookie, return_to = self.service.finish_login(request.cookies.get(cookies.login_name), request.args)
        except CallbackError as exc:
            return error_page("Sign-in failed", str(exc)), 400
        except AuthorizationDeniedError as exc:
            return error_page("Sign-in refused", str(exc)), 403
        except ScopedAuthError as exc:
            current_app.logger.warning("sign-in failed: %s", exc)
            return error_page("Sign-in failed", "The workspace could not complete the sign-in; try again."), 502
        old = request.cookies.get(cookies.session_name)
        if old:
            self.service.logout(old)  # a new login replaces, never extends, an older session
        response = redirect(return_to, 302)
        response.set_cookie(cookies.session_name, cookie, **cookies.attributes(self.service.session_lifetime))
        response.delete_cookie(cookies.login_name, path="/", secure=cookies.secure, httponly=True, samesite="Lax")
        response.headers["Cache-Control"] = "no-store"
        return response

    def _logout(self) -> Response | tuple[str, int]:
        if cross_site_post(request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site"), self.service.origin):
            return error_page("Sign-out refused", "Sign out from this app's own pages."), 403
        self.service.logout(request.cookies.get(self._cookies.session_name))
        after = request.args.get("next") or "/"
        response = redirect(after if safe_return_to(after) == after else "/", 303)
        c = self._cookies
        response.delete_cookie(c.session_name, path="/", secure=c.secure, httponly=True, samesite="Lax")
        return response

    def _not_signed_in(self, exc: NotSignedInError) -> Response | tuple[Response, int]:
        if self._wants_json():
            return jsonify(error="unauthenticated", message=str(exc)), 401
        return redirect(login_location(self.url_prefix, request.full_path.rstrip("?")), 302)

    def _unavailable(self, exc: ScopedAuthError) -> tuple[Response | str, int]:
        """The workspace or the store failed mid-request: 503, with details in the log only."""
        current_app.logger.warning("scopedauth: %s", exc)
        if self._wants_json():
            return jsonify(error="unavailable", message=UNAVAILABLE), 503
        return error_page("Try again", UNAVAILABLE), 503

    def _wants_json(self) -> bool:
        if request.path.startswith(self.api_prefix):
            return True
        accept = request.accept_mimetypes
        return accept.best == "application/json" or (accept.accept_json and not accept.accept_html)

    # -- for views --------------------------------------------------------------------------
    def login_required(self, view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.session()
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _lookup(self) -> SessionRow:
        """The request's session row, read from the store once per request."""
        if "scopedauth_row" not in g:
            g.scopedauth_row = self.service.lookup(request.cookies.get(self._cookies.session_name))
        row: SessionRow = g.scopedauth_row
        return row

    def session(self) -> SessionInfo:
        """Who is signed in (raises :class:`NotSignedInError`, answered as a redirect or 401)."""
        return self.service.session_for(None, self._lookup())

    @property
    def user(self) -> str:
        return self.session().subject

    def token(self) -> Token:
        """This visitor's fresh token record (refreshed once across replicas when it must be)."""
        if "scopedauth_token" not in g:
            g.scopedauth_token = self.service.token_for(None, self._lookup())
        token: Token = g.scopedauth_token
        return token

    def access_token(self) -> str:
        return self.token().access_token

    def workspace_client(self) -> Any:
        """A databricks-sdk ``WorkspaceClient`` acting as this visitor; it never holds the refresh token."""
        from .sdk import workspace_client

        cookie = request.cookies.get(self._cookies.session_name)
        self.session()
        return workspace_client(self.service.tenant, lambda: self.service.token_for(cookie))

    def logout_all(self, subject: str) -> int:
        """Sign ``subject`` out everywhere (every browser, every replica); returns how many sessions."""
        return self.service.logout_all(subject)
