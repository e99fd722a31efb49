"""``scopedauth-databricks-cli``: the two commands databricks-sdk's ``databricks-cli`` auth type runs.

A profile saved with ``scopedauth login --profile P --save-profile`` names this script as its
``databricks_cli_path`` (see :mod:`scopedauth.handoff.sdk_profile`). The SDK then runs:

- ``<path> version --output json`` once per process, to learn which flags ``auth token`` takes.
  We answer as Databricks CLI :data:`SPEAKS` (the first version with ``--profile`` and
  ``--force-refresh`` on ``auth token``) so the SDK passes the profile name rather than a host;
- ``<path> auth token --profile P [--force-refresh]`` (or ``--host H [--account-id A]``) and
  reads ``{"access_token", "token_type", "expiry"}`` from stdout.

The token comes from scopedauth's store exactly as ``scopedauth token --profile P`` gets it
(refreshed when due, under the same lock); ``--force-refresh`` is accepted and means no more than
that, since the store is always current. Nothing usable stored: the exact ``scopedauth login``
command on stderr, exit 4; the browser is never opened. Like ``scopedauth token`` it imports no
click, so the SDK's per-refresh subprocess stays cheap.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone

__all__ = ["SPEAKS", "main", "run"]

#: the Databricks CLI version whose ``auth token`` flags this script accepts
SPEAKS = (0, 296, 0)
_VALUED = {
    "--profile": "profile",
    "-p": "profile",
    "--host": "host",
    "--account-id": "account_id",
    "--output": "output",
}
_FLAGS = {"--force-refresh"}


def _usage(problem: str) -> int:
    sys.stderr.write(
        f"scopedauth-databricks-cli: {problem}\n"
        "It answers databricks-sdk's 'auth token' and 'version' calls for a profile saved with\n"
        "'scopedauth login --profile P --save-profile'; for everything else use 'scopedauth'.\n"
    )
    return 2


def _parse(argv: list[str]) -> dict[str, str] | None:
    opts: dict[str, str] = {}
    i = 0
    while i < len(argv):
        name, eq, value = argv[i].partition("=")
        if argv[i] in _FLAGS:
            pass
        elif name in _VALUED and eq:
            opts[_VALUED[name]] = value
        elif argv[i] in _VALUED and i + 1 < len(argv):
            i += 1
            opts[_VALUED[argv[i - 1]]] = argv[i]
        else:
            return None
        i += 1
    return opts


def _expiry(moment: datetime | None) -> str:
    """Local time with microseconds and offset, as the Go CLI prints it: the SDK keeps the part
    before the '.' and reads it as local time, so a UTC 'Z' would be wrong outside UTC."""
    moment = moment or datetime.now(timezone.utc) + timedelta(minutes=5)  # no expiry known: ask again soon
    return moment.astimezone().isoformat(timespec="microseconds")


def run(argv: list[str]) -> int:
    if argv[:1] == ["version"]:
        major, minor, patch = SPEAKS
        version = {"Version": f"{major}.{minor}.{patch}", "Major": major, "Minor": minor, "Patch": patch}
        sys.stdout.write(json.dumps({**version, "Prerelease": "", "Name": "scopedauth-databricks-cli"}) + "\n")
        return 0
    if argv[:2] != ["auth", "token"]:
        return _usage(f"unsupported command: {' '.join(argv) or '(none)'}")
    opts = _parse(argv[2:])
    if opts is None or opts.get("output", "json") != "json":
        return _usage(f"unsupported options: {' '.join(argv[2:])}")
    from ..errors import ScopedAuthError
    from ..grants.session import get_token
    from .logs import error_line, install_stderr_handler

    install_stderr_handler()
    try:
        token = get_token(
            interactive=False, profile=opts.get("profile"), host=opts.get("host"), account_id=opts.get("account_id")
        )
    except ScopedAuthError as exc:
        sys.stderr.write(error_line(exc) + "\n")
        return exc.exit_code
    answer = {"access_token": token.access_token, "token_type": token.token_type, "expiry": _expiry(token.expiry)}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
