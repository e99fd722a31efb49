"""Web rules shared by the Flask and ASGI integrations: cookie names and attributes, redirects.

Production cookies are ``__Host-`` prefixed, ``Secure``, ``HttpOnly``, ``SameSite=Lax`` and
``Path=/`` with no ``Domain``: the browser then refuses any such cookie set over plain http or
by a sibling subdomain. Only an ``http://`` loopback ``redirect_uri`` (local development) drops
``Secure`` and the prefix, because browsers will not store them over http.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from ..urls import parse_url

__all__ = ["CookiePolicy", "app_origin", "cross_site_post", "error_page", "login_location", "safe_return_to"]


@dataclass(frozen=True)
class CookiePolicy:
    secure: bool

    @classmethod
    def for_redirect_uri(cls, redirect_uri: str) -> CookiePolicy:
        try:  # the one URL parser: https, or plain http only to a literal loopback host
            url = parse_url(redirect_uri, "redirect_uri")
        except ConfigError as exc:
            raise ConfigError(
                f"the redirect_uri {redirect_uri!r} must be https (plain http only on a loopback host, "
                f"for development): {exc}"
            ) from None
        return cls(secure=url.scheme == "https")

    @property
    def prefix(self) -> str:
        return "__Host-" if self.secure else ""

    @property
    def session_name(self) -> str:
        return self.prefix + "scopedauth-session"

    @property
    def login_name(self) -> str:
        """The pre-login cookie that binds a login's ``state`` to the browser that started it."""
        return self.prefix + "scopedauth-login"

    def attributes(self, max_age: float | None) -> dict[str, Any]:
        """Keyword arguments for Flask's and Starlette's ``set_cookie`` (same names in both)."""
        attrs: dict[str, Any] = {"path": "/", "secure": self.secure, "httponly": True, "samesite": "lax"}
        if max_age is not None:
            attrs["max_age"] = int(max_age)
        return attrs


def app_origin(redirect_uri: str) -> str:
    """The app's own origin, as browsers write it in ``Origin``: from its (public) redirect URI."""
    return parse_url(redirect_uri, "redirect_uri").origin


def cross_site_post(origin: str | None, fetch_site: str | None, own_origin: str) -> bool:
    """True for a POST that another site, or a sibling subdomain, made the browser send.

    SameSite=Lax keeps the cookie off a cross-site POST, but the answer's ``Set-Cookie`` still
    applies (a top-level navigation may set cookies), and a sibling subdomain is *same-site*, so
    it even sends the cookie. Browsers send ``Sec-Fetch-Site`` or ``Origin`` with every POST; a
    client that sends neither is not a browser, so it is nobody's forged request.
    """
    if fetch_site:
        return fetch_site.lower() not in ("same-origin", "none")
    return bool(origin) and str(origin).lower() != own_origin


def safe_return_to(target: str | None) -> str:
    """A same-site path to go back to after login; anything else (another origin, ``//x``) is ``/``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\t"):
        return "/"
    return target


def error_page(title: str, message: str) -> str:
    """The small HTML page of a failed sign-in; everything reflected is escaped."""
    import html

    return (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p><p><a href='/'>Home</a></p>"
    )


def login_location(url_prefix: str, path_and_query: str) -> str:
    """Where an unauthenticated page request goes: the login route, coming back here after."""
    from urllib.parse import quote

    return f"{url_prefix}/login?next={quote(path_and_query, safe='/')}"
