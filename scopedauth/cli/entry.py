"""The console-script entry: ``scopedauth token`` without click, everything else through it.

``scopedauth token`` runs in every shell prompt, Makefile and credential helper, so its start-up
is the product. Importing click costs more than reading the keyring; this module parses the
``token`` command's few options by hand and hands anything it does not fully understand
(``--help``, an unknown flag, a typo) to the click CLI, which owns the real definitions and
error messages. The two must accept the same options: tests/test_entry.py runs both on the same
argument lists.
"""

from __future__ import annotations

import sys
from typing import cast

from ..config import STORAGE_KINDS, StorageKind, TargetOptions

__all__ = ["main", "parse_token_args"]

_VALUED = {
    "--host": "host",
    "--profile": "profile",
    "-p": "profile",
    "--account-id": "account_id",
    "--client-id": "client_id",
    "--scopes": "scopes",
    "-s": "scopes",
    "--app": "app",
    "--storage": "storage",
    "--output": "output",
    "-o": "output",
}


def parse_token_args(argv: list[str]) -> tuple[dict[str, str | None], bool] | None:
    """The ``token`` options and whether ``--no-refresh-token`` was given, or None when click
    should handle the command line."""
    opts: dict[str, str | None] = dict.fromkeys(set(_VALUED.values()))
    no_refresh = False
    i = 0
    while i < len(argv):
        word = argv[i]
        name, eq, value = word.partition("=")
        if word == "--no-refresh-token":
            no_refresh = True
        elif name in _VALUED and eq and name.startswith("--"):
            opts[_VALUED[name]] = value
        elif word in _VALUED and i + 1 < len(argv):
            i += 1
            opts[_VALUED[word]] = argv[i]
        else:
            return None
        i += 1
    if opts["output"] not in (None, "text", "json") or opts["storage"] not in (None, *STORAGE_KINDS):
        return None
    return opts, no_refresh


def _fast_token(argv: list[str]) -> int | None:
    parsed = parse_token_args(argv)
    if parsed is None:
        return None
    opts, no_refresh = parsed
    from ..errors import ScopedAuthError
    from ..grants.session import get_token, peek
    from ..log import on_first_use
    from .logs import error_line, install_stderr_handler

    options: TargetOptions = {
        "host": opts["host"],
        "profile": opts["profile"],
        "account_id": opts["account_id"],
        "client_id": opts["client_id"],
        "scopes": opts["scopes"],
        "app": opts["app"],
        "refresh_token": False if no_refresh else None,
    }
    store = cast("StorageKind | None", opts["storage"])  # checked by parse_token_args
    on_first_use(install_stderr_handler)  # logging is imported only if something is said
    try:
        token = peek(store=store, **options)
        if token is None:  # a refresh, a mint or an error to explain: now load what that takes
            token = get_token(store=store, interactive=False, **options)
    except ScopedAuthError as exc:
        sys.stderr.write(error_line(exc) + "\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    if opts["output"] == "json":
        import json

        sys.stdout.write(json.dumps(token.to_cli_json(), indent=2) + "\n")
    else:
        sys.stdout.write(token.access_token + "\n")
    sys.stdout.flush()
    return 0


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["token"]:
        code = _fast_token(argv[1:])
        if code is not None:
            sys.exit(code)
    from .main import main as cli_main

    cli_main()
