"""The public surface is deliberate: this test changes only when the API does."""

from __future__ import annotations

import subprocess
import sys

import scopedauth
from scopedauth import errors

PUBLIC = [
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


def test_all_is_sorted_and_pinned() -> None:
    assert scopedauth.__all__ == sorted(scopedauth.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(scopedauth, name) is not None


def test_every_error_class_is_exported_from_the_package() -> None:
    for name in errors.__all__:
        assert name in scopedauth.__all__ and getattr(scopedauth, name) is getattr(errors, name)


def test_the_version_is_written_once() -> None:
    """pyproject.toml reads scopedauth/_version.py; nothing else spells the number."""
    import re
    from pathlib import Path

    root = Path(scopedauth.__file__).resolve().parent.parent
    pyproject = (root / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and not re.search(r"^version\s*=", pyproject, re.M)
    hits = [p for p in (root / "scopedauth").rglob("*.py") if scopedauth.__version__ in p.read_text()]
    assert [p.name for p in hits] == ["_version.py"]


def test_error_tree() -> None:
    tree = {
        errors.ConfigError: errors.ScopedAuthError,
        errors.ProfileNotSavedError: errors.ConfigError,
        errors.LoginRequiredError: errors.ScopedAuthError,
        errors.AuthorizationError: errors.ScopedAuthError,
        errors.AuthorizationDeniedError: errors.AuthorizationError,
        errors.CallbackTimeoutError: errors.AuthorizationError,
        errors.ListenerError: errors.AuthorizationError,
        errors.TokenEndpointError: errors.ScopedAuthError,
        errors.InvalidGrantError: errors.TokenEndpointError,
        errors.NetworkError: errors.ScopedAuthError,
        errors.StorageError: errors.ScopedAuthError,
    }
    for child, parent in tree.items():
        assert child.__bases__ == (parent,), child
    assert errors.ScopedAuthError.__bases__ == (Exception,)
    assert sorted(errors.__all__) == sorted(c.__name__ for c in [*tree, errors.ScopedAuthError])
    assert (
        len(
            {
                c.exit_code
                for c in (
                    errors.ConfigError,
                    errors.ProfileNotSavedError,
                    errors.LoginRequiredError,
                    errors.AuthorizationError,
                    errors.TokenEndpointError,
                    errors.NetworkError,
                    errors.StorageError,
                )
            }
        )
        == 7
    )


def test_import_is_cheap() -> None:
    """``import scopedauth`` must not pull in requests, flask, authlib, click, databricks-sdk,
    the hosted extras, the optional clients (httpx, aiohttp) or asyncio."""
    probe = (
        "import sys, scopedauth; print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'requests', 'flask', 'authlib', 'click', 'databricks', 'keyring', 'filelock',"
        " 'sqlalchemy', 'psycopg', 'redis', 'cryptography', 'starlette', 'httpx', 'aiohttp', 'asyncio'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_lazy_names_resolve() -> None:
    import httpx

    assert scopedauth.BearerAuth.__name__ == "BearerAuth"
    assert issubclass(scopedauth.BearerAuth, httpx.Auth), "httpx needs a real httpx.Auth (not a bare callable)"
    assert callable(scopedauth.credentials_strategy)
    assert scopedauth.forwarded.__name__ == "forwarded"
    assert scopedauth.aget_token.__name__ == "aget_token" and scopedauth.aheaders.__name__ == "aheaders"
