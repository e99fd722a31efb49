"""Hosted multi-user apps: sign in every visitor, keep their tokens in a shared store, refresh once.

``pip install 'scopedauth[hosted]'``::

    from scopedauth.hosted import HostedAuth
    auth = HostedAuth(host=WS, client_id=ID, client_secret=SECRET, scopes="sql dashboards.genie",
                      redirect_uri="https://app.example.com/auth/callback", store="postgresql://…")
    auth.init_app(flask_app)

Nothing here is imported by ``import scopedauth``; the heavy pieces (SQLAlchemy, redis,
cryptography, Flask, Starlette) are imported by the modules that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .asgi import HostedASGI, HostedUser
    from .flaskapp import HostedAuth
    from .keys import Keyring
    from .service import HostedService

__all__ = ["HostedASGI", "HostedAuth", "HostedService", "HostedUser", "Keyring"]

_LAZY = {
    "HostedASGI": "asgi",
    "HostedUser": "asgi",
    "HostedAuth": "flaskapp",
    "HostedService": "service",
    "Keyring": "keys",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scopedauth.hosted' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
