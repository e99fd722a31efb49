"""scopedauth: Databricks OAuth U2M tokens with exactly the scopes an app needs.

Log in once (``scopedauth login --scopes "sql files.files"``), then any program gets a fresh
token: ``scopedauth.get_token(host=…, scopes=…)``, ``scopedauth.headers(…)``,
``scopedauth.BearerAuth(…)`` for requests, ``scopedauth.credentials_strategy(…)`` for
databricks-sdk. Every error derives from :class:`ScopedAuthError`; the whole tree is exported
here (and drawn in :mod:`scopedauth.errors`).

The names that need requests or databricks-sdk are imported on first use, so
``import scopedauth`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
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
    ScopedAuthError,
    StorageError,
    TokenEndpointError,
)
from .grants.manage import login, logout
from .grants.session import get_token, headers
from .tokens import Token

if TYPE_CHECKING:
    from .handoff.integrations import BearerAuth, credentials_strategy

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
    "ScopedAuthError",
    "StorageError",
    "StorageKind",
    "Target",
    "TargetOptions",
    "Token",
    "TokenEndpointError",
    "__version__",
    "credentials_strategy",
    "get_token",
    "headers",
    "login",
    "logout",
]

_LAZY = {"BearerAuth", "credentials_strategy"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from .handoff import integrations

        return getattr(integrations, name)
    raise AttributeError(f"module 'scopedauth' has no attribute {name!r}")
