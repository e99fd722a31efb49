"""Inside a Databricks App: act as the signed-in user with the token Databricks forwards.

Databricks Apps passes the user's token to the app in ``X-Forwarded-Access-Token`` on every
request (when the app has user authorization). :func:`forwarded` turns that header into a
credentials strategy::

    w = WorkspaceClient(credentials_strategy=scopedauth.forwarded(request.headers))
    sql.connect(..., credentials_provider=scopedauth.forwarded(request.headers))

Why not ``WorkspaceClient(token=…)``: an app's environment also holds its own service
principal (``DATABRICKS_CLIENT_ID`` / ``DATABRICKS_CLIENT_SECRET``), and databricks-sdk refuses a
token next to them ("more than one authorization method configured"). A credentials strategy
is not a configured attribute, so the SDK takes it and never reads the client secret.

The strategy is duck-typed (``auth_type()`` and a call returning a header factory), which is all
databricks-sdk's ``Config`` and the SQL connector's ``credentials_provider`` ask for, so neither
is imported here. The token lives only in the returned object for the request's lifetime: it
is never stored, logged or shown in a repr.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ConfigError

__all__ = ["FORWARDED_TOKEN_HEADER", "ForwardedCredentials", "forwarded"]

FORWARDED_TOKEN_HEADER = "X-Forwarded-Access-Token"
_IDENTITY_HEADERS = ("X-Forwarded-Email", "X-Forwarded-User", "X-Forwarded-Preferred-Username")


class ForwardedCredentials:
    """A databricks-sdk credentials strategy (and SQL connector credentials provider) for one request."""

    def __init__(self, token: str, email: str | None = None) -> None:
        self._token = token
        #: who the token belongs to, as Databricks said (``X-Forwarded-Email``)
        self.email = email

    def auth_type(self) -> str:
        return "scopedauth-forwarded"

    def __call__(self, cfg: Any = None) -> Callable[[], dict[str, str]]:
        """The header factory; ``cfg`` is the SDK's Config (the SQL connector passes nothing)."""
        header = {"Authorization": f"Bearer {self._token}"}
        return lambda: dict(header)

    def headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer …"}``, for plain HTTP clients."""
        return self()()

    def __repr__(self) -> str:
        return f"ForwardedCredentials(email={self.email!r}, token=<redacted>)"


def _lookup(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> str | None:
    """Case-insensitive header lookup over Flask/Starlette headers, a dict, or (name, value) pairs."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    wanted = name.lower()
    for key, value in items:
        if str(key).lower() == wanted:
            return str(value)
    return None


def forwarded(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> ForwardedCredentials:
    """A credentials strategy acting as the user who made the current Databricks App request.

    Args:
        headers: the request's headers (``flask.request.headers``, Starlette's
            ``request.headers``, a dict, or ``(name, value)`` pairs).

    Raises:
        ConfigError: no ``X-Forwarded-Access-Token``: either the app does not use user
            authorization, or the request did not come through Databricks Apps.
    """
    token = (_lookup(headers, FORWARDED_TOKEN_HEADER) or "").strip()
    if not token:
        if any(_lookup(headers, name) for name in _IDENTITY_HEADERS):
            raise ConfigError(
                f"the request has no {FORWARDED_TOKEN_HEADER}: user authorization is not enabled for this app; "
                "add the scopes it needs under the app's 'User authorization' (user_api_scopes) and redeploy"
            )
        raise ConfigError(
            f"the request has no {FORWARDED_TOKEN_HEADER}: it did not come through Databricks Apps "
            "(locally, run the app behind 'scopedauth sandbox --app NAME=URL --app-scopes \"…\"')"
        )
    return ForwardedCredentials(token, _lookup(headers, "X-Forwarded-Email"))
