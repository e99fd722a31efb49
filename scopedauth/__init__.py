"""scopedauth: Databricks OAuth U2M tokens with exactly the scopes an app needs.

Log in once (``scopedauth login --scopes "sql files.files"``), then any program gets a fresh
token: ``scopedauth.get_token(host=…, scopes=…)``, ``scopedauth.headers(…)``,
``await scopedauth.aget_token(…)`` / ``aheaders(…)`` in asyncio programs,
``scopedauth.BearerAuth(…)`` for requests, httpx and aiohttp, ``scopedauth.credentials_strategy(…)``
for databricks-sdk and databricks-sql-connector; inside a Databricks App,
``scopedauth.forwarded(request.headers)`` acts as the signed-in user. Every error derives from
:class:`ScopedAuthError`; the whole tree is exported here (and drawn in :mod:`scopedauth.errors`).

Every public name is imported on first use, so ``import scopedauth`` costs almost nothing
and ``scopedauth token`` loads only what serves a cached token (asyncio, httpx and aiohttp
included: ``BearerAuth`` imports httpx, when installed, on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .config import StorageKind, Target, TargetOptions
    from .errors import (
        AuthorizationDeniedError,
        AuthorizationError,
        CallbackTimeoutError,
        ConfigError,
        InvalidGrantError,
        ListenerError,
        LoginRequiredError,
        NetworkError,
        ProfileNotSavedError,
        ScopedAuthError,
        StorageError,
        TokenEndpointError,
    )
    from .grants.aio import aget_token, aheaders
    from .grants.manage import login, logout
    from .grants.session import get_token, headers
    from .handoff.bearer import BearerAuth
    from .handoff.forwarded import forwarded
    from .handoff.integrations import credentials_strategy
    from .tokens import Token

__all__ = [
    "AuthorizationDeniedError",
    "AuthorizationError",
    "BearerAuth",
    "CallbackTimeoutError",
    "ConfigError",
    "InvalidGrantError",
    "ListenerError",
    "LoginRequiredError",
    "NetworkError",
    "ProfileNotSavedError",
    "ScopedAuthError",
    "StorageError",
    "StorageKind",
    "Target",
    "TargetOptions",
    "Token",
    "TokenEndpointError",
    "__version__",
    "aget_token",
    "aheaders",
    "credentials_strategy",
    "forwarded",
    "get_token",
    "headers",
    "login",
    "logout",
]

#: where each public name lives; imported on first use (PEP 562), so ``import scopedauth`` and
#: ``scopedauth token`` (whose entry module lives in this package) pay only for what they touch
_HOME = {
    "StorageKind": "config",
    "Target": "config",
    "TargetOptions": "config",
    "Token": "tokens",
    "get_token": "grants.session",
    "headers": "grants.session",
    "login": "grants.manage",
    "logout": "grants.manage",
    "aget_token": "grants.aio",
    "aheaders": "grants.aio",
    "BearerAuth": "handoff.bearer",
    "credentials_strategy": "handoff.integrations",
    "forwarded": "handoff.forwarded",
    **{name: "errors" for name in __all__ if name.endswith("Error")},
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'scopedauth' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
