"""scopedauth: Databricks OAuth U2M tokens with exactly the scopes an app needs.

Log in once (``scopedauth login --scopes "sql files.files"``), then any program gets a fresh
token: ``scopedauth.get_token(host=…, scopes=…)``, ``scopedauth.headers(…)``,
``scopedauth.BearerAuth(…)`` for requests, ``scopedauth.credentials_strategy(…)`` for
databricks-sdk. Errors all derive from :class:`ScopedAuthError` (see :mod:`scopedauth.errors`).

The names that need requests or databricks-sdk are imported on first use, so
``import scopedauth`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import Target
from .errors import ScopedAuthError
from .grants.manage import login, logout
from .grants.session import get_token, headers
from .tokens import Token

if TYPE_CHECKING:
    from .handoff.integrations import BearerAuth, credentials_strategy

__version__ = "0.1.0"

__all__ = [
    "BearerAuth",
    "ScopedAuthError",
    "Target",
    "Token",
    "__version__",
    "credentials_strategy",
    "get_token",
    "headers",
    "login",
    "logout",
]


def __getattr__(name: str) -> Any:
    if name in ("BearerAuth", "credentials_strategy"):
        from .handoff import integrations

        return getattr(integrations, name)
    raise AttributeError(f"module 'scopedauth' has no attribute {name!r}")
