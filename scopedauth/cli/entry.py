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

__all__ = ["main", "parse_token_args"]

_VALUED = {
    "--host": "host",
    "--profile": "profile",
    "-p": "profile",
    "--account-id": "account_id",
    "--client-id": "client_id",
    "--scopes": "scopes",
    "-s": "scopes",
    "--storage": "storage",
    "--output": "output",
    "-o": "output",
}
_STORAGES = ("keyring", "file", "memory")


def parse_token_args(argv: list[str]) -> dict[str, str | bool | None] | None:
    """The ``token`` options as a dict, or None when click should handle the command line."""
    opts: dict[str, str | bool | None] = {name: None for name in set(_VALUED.values())}
    opts["no_refresh"] = False
    i = 0
    while i < len(argv):
        word = argv[i]
        name, eq, value = word.partition("=")
        if word == "--no-refresh-token":
            opts["no_refresh"] = True
        elif name in _VALUED and eq and name.startswith("--"):
            opts[_VALUED[name]] = value
        elif word in _VALUED and i + 1 < len(argv):
            i += 1
            opts[_VALUED[word]] = argv[i]
        else:
            return None
        i += 1
    if opts["output"] not in (None, "text", "json") or opts["storage"] not in (None, *_STORAGES):
        return None
    return opts


def _fast_token(argv: list[str]) -> int | None:
    opts = parse_token_args(argv)
    if opts is None:
        return None
    from ..errors import ScopedAuthError
    from ..grants.session import get_token
    from .logs import error_line, install_stderr_handler

    install_stderr_handler()
    try:
        token = get_token(
            store=opts["storage"] or None,  # type: ignore[arg-type]
            interactive=False,
            host=opts["host"],
            profile=opts["profile"],
            account_id=opts["account_id"],
            client_id=opts["client_id"],
            scopes=opts["scopes"],
            refresh_token=False if opts["no_refresh"] else None,
        )
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
