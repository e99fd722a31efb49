"""``scopedauth sandbox`` / ``python -m scopedauth.sandbox``: serve the sandbox and your apps.

``[--port N] [--app NAME=URL [--app-scopes "…"]]… [--redirect-uri URI]… [--auto-approve]``.

Serves until Ctrl-C or SIGTERM. stdout: the workspace URL on line 1, then one ``NAME URL`` line
per app (the bundled ``sample`` app first, then each ``--app`` in the order given), so a script
can read them; the chatter goes to stderr.

``--app NAME=URL`` fronts the developer's own server at URL the way Databricks Apps does (see
:mod:`scopedauth.sandbox.front`); the ``--app-scopes`` after it sets that app's
``user_api_scopes`` (without it the app does not use user authorization).
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from . import AppSpec, Sandbox, SandboxConfig
from .config import PUBLIC_CLIENT_ID

_APP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")  # Databricks: lower case letters, digits, hyphens


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _app(value: str) -> AppSpec:
    name, sep, url = value.partition("=")
    if not sep or not _APP_NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"expected NAME=URL with NAME of lower-case letters, digits and hyphens, got {value!r}"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"the app's URL must be http(s)://host:port, got {url!r}")
    return AppSpec(name=name, upstream=url.rstrip("/"))


class _AppScopes(argparse.Action):
    """``--app-scopes`` belongs to the ``--app`` just before it."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: str | None = None
    ) -> None:
        apps: list[AppSpec] = namespace.apps or []
        if not apps:
            parser.error("--app-scopes must follow the --app it belongs to")
        apps[-1].user_api_scopes = [s for s in re.split(r"[,\s]+", str(values)) if s]


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scopedauth sandbox",
        description="Run the Databricks-shaped sandbox workspace, its sample app and your own apps on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="workspace port (default: a free one)")
    parser.add_argument(
        "--app",
        dest="apps",
        action="append",
        type=_app,
        metavar="NAME=URL",
        help="front your app at URL as Databricks App NAME (repeatable)",
    )
    parser.add_argument(
        "--app-scopes",
        action=_AppScopes,
        metavar="SCOPES",
        help='user_api_scopes of the --app before it, e.g. "sql files.files"',
    )
    parser.add_argument(
        "--redirect-uri",
        dest="redirect_uris",
        action="append",
        default=[],
        metavar="URI",
        help="also accept this redirect URI for databricks-cli, e.g. http://localhost:8021 (repeatable)",
    )
    parser.add_argument(
        "--auto-approve",
        action="store_true",
        help="sign logins in as the demo user with no consent page (for CI)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    config = SandboxConfig(apps=args.apps or [], auto_approve=args.auto_approve)
    config.redirect_uris[PUBLIC_CLIENT_ID] += args.redirect_uris
    try:
        sandbox = Sandbox(config, port=args.port).start()
    except (OSError, ValueError) as exc:
        print(f"scopedauth: error: cannot start the sandbox: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    try:
        print(sandbox.url)
        for name, url in sandbox.app_urls.items():
            print(f"{name} {url}")
        sys.stdout.flush()
        apps = ", ".join(f"{name} at {url}" for name, url in sandbox.app_urls.items())
        approve = "; logins are approved automatically" if args.auto_approve else ""
        print(
            f"sandbox workspace {sandbox.url}; apps: {apps}; user {sandbox.config.user}{approve}; Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
