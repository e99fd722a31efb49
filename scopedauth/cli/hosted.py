"""``scopedauth hosted migrate | keygen | rotate-keys``: the operator's commands.

stdout carries only what a script wants (the new key); the rest goes to stderr, and errors are
the CLI's one ``scopedauth: error: …`` line with the error tree's exit code. Keys are read
from ``SCOPEDAUTH_HOSTED_KEYS`` only, never from the command line, where ``ps`` would show them.
Heavy imports (SQLAlchemy, redis, cryptography) happen inside the commands.
"""

from __future__ import annotations

import click

from .options import handle_errors

__all__ = ["hosted"]

_STORE = click.option(
    "--store",
    envvar="SCOPEDAUTH_HOSTED_STORE",
    required=True,
    help="sqlite:///PATH, postgresql://… or redis://… (or SCOPEDAUTH_HOSTED_STORE).",
)


@click.group()
def hosted() -> None:
    """Hosted multi-user apps: the shared store and its encryption keys."""


@hosted.command()
@_STORE
@handle_errors
def migrate(store: str) -> None:
    """Create or upgrade the hosted schema in STORE (replicas also do it at start)."""
    from ..hosted.backends import open_store

    opened = open_store(store, migrate=True)
    click.echo(f"{opened!r}: schema version {opened.schema_version()}", err=True)
    opened.close()


@hosted.command()
@click.option("--kid", help="Key id (default: k + 8 random hex digits).")
@handle_errors
def keygen(kid: str | None) -> None:
    """Print a new kid:base64 key (256 random bits). Put it first in SCOPEDAUTH_HOSTED_KEYS."""
    from ..hosted.keys import generate_key

    click.echo(generate_key(kid))


@hosted.command("rotate-keys")
@_STORE
@handle_errors
def rotate_keys(store: str) -> None:
    """Re-encrypt every session in STORE under the first key of SCOPEDAUTH_HOSTED_KEYS."""
    from ..hosted.admin import rotate_keys as rotate
    from ..hosted.backends import open_store
    from ..hosted.keys import Keyring

    keys = Keyring.from_env()
    opened = open_store(store, migrate=True)
    try:
        result = rotate(opened, keys)
    finally:
        opened.close()
    click.echo(
        f"re-encrypted {result.rotated} session(s) under {keys.primary}; {result.current} already were; "
        f"{result.raced} were refreshed meanwhile (and so re-encrypted by the refresh)",
        err=True,
    )
