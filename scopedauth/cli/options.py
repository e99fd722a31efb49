"""Options and error handling shared by every ``scopedauth`` command.

Command modules import from here, and :mod:`scopedauth.cli.main` imports the command modules,
so the imports point one way: options <- commands <- main.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..config import STORAGE_KINDS
from ..errors import ScopedAuthError
from ..text import shown
from .logs import error_line

__all__ = [
    "TARGET_FLAGS",
    "ca_bundle_option",
    "handle_errors",
    "say",
    "storage_option",
    "target_kwargs",
    "target_options",
]

F = TypeVar("F", bound=Callable[..., Any])


def say(message: str) -> None:
    """A message for people: stderr, sanitised (:func:`scopedauth.text.shown`, our line feeds kept)."""
    click.echo(shown(message, lines=True), err=True)


class _Seconds(click.FloatRange):
    """A FloatRange that also refuses NaN (every comparison with NaN is false, so the range lets it through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        return seconds


storage_option = click.option(
    "--storage",
    type=click.Choice(STORAGE_KINDS),
    envvar="SCOPEDAUTH_STORAGE",
    help="Where tokens live (default: the OS keyring).",
)


def target_options(func: F) -> F:
    """--host/--profile/--account-id/--client-id/--scopes/--app/--no-refresh-token/--storage."""
    opts = [
        click.option("--host", help="Workspace or account-console URL (else the profile or DATABRICKS_HOST)."),
        click.option("--profile", "-p", help="Profile in ~/.databrickscfg (else DATABRICKS_CONFIG_PROFILE)."),
        click.option("--account-id", help="Account ID: log in to the account console."),
        click.option("--client-id", help="OAuth client ID (default databricks-cli)."),
        click.option("--scopes", "-s", help='Scopes, comma- or space-separated, e.g. "sql files.files".'),
        click.option(
            "--app", metavar="NAME|URL", help="A Databricks App: use its scopes, read from the workspace's Apps API."
        ),
        click.option(
            "--no-refresh-token", "no_refresh", is_flag=True, help="Do not request offline_access (no refresh token)."
        ),
        storage_option,
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


TARGET_FLAGS = (
    ("host", "--host"),
    ("profile", "--profile"),
    ("account_id", "--account-id"),
    ("client_id", "--client-id"),
    ("scopes", "--scopes"),
    ("app", "--app"),
    ("no_refresh", "--no-refresh-token"),
)


def target_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """Pop the target options off a command's kwargs into resolve_target keywords."""
    return {
        "host": kw.pop("host"),
        "profile": kw.pop("profile"),
        "account_id": kw.pop("account_id"),
        "client_id": kw.pop("client_id"),
        "scopes": kw.pop("scopes"),
        "app": kw.pop("app"),
        "refresh_token": False if kw.pop("no_refresh") else None,
    }


def handle_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ScopedAuthError as exc:
            say(error_line(exc))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            say("scopedauth: cancelled; nothing was stored.")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def ca_bundle_option(func: F) -> F:
    """``--ca-bundle`` on the command itself too (``scopedauth login --ca-bundle F``), not only on the group."""

    def apply(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value:
            from ..oauth import transport

            transport.configure(ca_bundle=value)
        return value

    return click.option(
        "--ca-bundle",
        type=click.Path(dir_okay=False),
        expose_value=False,
        callback=apply,
        help="CA bundle for TLS to the workspace (corporate TLS inspection); or SCOPEDAUTH_CA_BUNDLE.",
    )(func)
