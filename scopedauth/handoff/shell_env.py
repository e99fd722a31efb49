"""(pure) Environment variables for other programs: which ones, and how each shell spells them.

``scopedauth env`` prints a token as shell code that a user evaluates, so every value is
quoted for the shell it is meant for: a value is data, never code, whatever it contains
(quotes, ``$(…)``, backticks, ``%``, new lines). Where a syntax has no way to say a character
safely (``cmd`` and a double quote; ``dotenv`` dialects disagree on escapes), the renderer
refuses rather than guess. ``scopedauth exec`` builds the child's environment here too, so
both commands agree on the names.

Usage per shell::

    out=$(scopedauth env --shell bash) && eval "$out"   # sh, bash, zsh (keeps a failure)
    scopedauth env --shell fish | source
    scopedauth env --shell powershell | Invoke-Expression
    scopedauth env --shell cmd > env.cmd && call env.cmd   (a batch file: % is doubled)
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping

from ..errors import ConfigError
from ..paths import is_env_name
from ..tokens import Token, format_time

__all__ = [
    "CONFLICTING",
    "SHELLS",
    "child_environment",
    "default_shell",
    "render",
    "token_variables",
]

#: DATABRICKS_* settings that would make an SDK pick another credential or profile than ours.
CONFLICTING = (
    "DATABRICKS_TOKEN",
    "DATABRICKS_USERNAME",
    "DATABRICKS_PASSWORD",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_CONFIG_PROFILE",
    "DATABRICKS_AUTH_TYPE",
    "DATABRICKS_ACCOUNT_ID",
    "DATABRICKS_METADATA_SERVICE_URL",
    "DATABRICKS_GOOGLE_SERVICE_ACCOUNT",
    "DATABRICKS_AZURE_RESOURCE_ID",
    "DATABRICKS_OIDC_TOKEN_ENV",
    "DATABRICKS_OIDC_TOKEN_FILEPATH",
    "DATABRICKS_OIDC_TOKEN_FILE",
)
_SHELL_ALIASES = {
    "sh": "sh",
    "bash": "bash",
    "zsh": "zsh",
    "dash": "sh",
    "ksh": "sh",
    "mksh": "sh",
    "ash": "sh",
    "fish": "fish",
    "pwsh": "powershell",
    "powershell": "powershell",
    "cmd": "cmd",
}


def token_variables(token: Token) -> dict[str, str]:
    """The variables ``env`` prints: host, account (account targets), token, auth type, expiry.

    ``DATABRICKS_AUTH_TYPE=pat`` makes databricks-sdk and the CLI use this token even when the
    shell also holds a profile or client credentials; without it they refuse the mix ("more
    than one authorization method configured").
    """
    values = {"DATABRICKS_HOST": token.target.host}
    if token.target.account_id:
        values["DATABRICKS_ACCOUNT_ID"] = token.target.account_id
    values["DATABRICKS_TOKEN"] = token.access_token
    values["DATABRICKS_AUTH_TYPE"] = "pat"
    if token.expiry is not None:
        values["SCOPEDAUTH_TOKEN_EXPIRY"] = format_time(token.expiry)
    return values


def child_environment(base: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """``base`` without the conflicting DATABRICKS_* settings, plus ``values``.

    ARM_* and GOOGLE_* are kept: other tools (Terraform, gcloud) own them, and an explicit
    ``DATABRICKS_AUTH_TYPE`` in ``values`` keeps the SDKs from looking at them.
    """
    env = {k: v for k, v in base.items() if k not in CONFLICTING}
    env.update(values)
    return env


def default_shell(environ: Mapping[str, str]) -> str:
    """The shell named by ``$SHELL``'s basename, else ``sh``."""
    name = os.path.basename(environ.get("SHELL", "").rstrip("/\\")).lower().removesuffix(".exe")
    return _SHELL_ALIASES.get(name, "sh")


def _refuse(shell: str, name: str, what: str) -> ConfigError:
    # names the variable and the offending character class, never the value (it may be a token)
    return ConfigError(f"{name} contains {what}, which {shell} syntax cannot hold safely; use --shell json")


def _posix(name: str, value: str) -> str:
    return f"export {name}='" + value.replace("'", "'\\''") + "'"


def _fish(name: str, value: str) -> str:
    # inside fish single quotes only \\ and \' are special; CR and LF are written as \r and \n
    # outside the quotes so every assignment stays on one line
    out = []
    for piece in re.split(r"(\r|\n)", value):
        if piece in ("\r", "\n"):
            out.append("\\r" if piece == "\r" else "\\n")
        elif piece or not out:
            out.append("'" + piece.replace("\\", "\\\\").replace("'", "\\'") + "'")
    return f"set -gx {name} " + "".join(out)


_PS_QUOTES = "'\u2018\u2019\u201a\u201b"  # PowerShell ends a '…' string at any of these


def _powershell(name: str, value: str) -> str:
    # one statement per line (Invoke-Expression reads lines): CR and LF become [char] joins
    pieces = re.split(r"(\r|\n)", value)
    out = []
    for piece in pieces:
        if piece in ("\r", "\n"):
            out.append(f"[char]{ord(piece)}")
        elif piece or len(pieces) == 1:
            out.append("'" + "".join(c * 2 if c in _PS_QUOTES else c for c in piece) + "'")
    return f"$Env:{name} = " + " + ".join(out)


def _cmd(name: str, value: str) -> str:
    if '"' in value or "\r" in value or "\n" in value:
        raise _refuse("cmd", name, "a double quote or a line break")
    return f'set "{name}={value.replace("%", "%%")}"'


def _dotenv(name: str, value: str) -> str:
    # single quotes: no interpolation in python-dotenv's, docker compose's or node's readers;
    # they disagree on escapes, so values needing one are refused
    for bad, what in (("'", "a single quote"), ("\\", "a backslash"), ("${", "'${'")):
        if bad in value:
            raise _refuse("dotenv", name, what)
    if "\n" in value or "\r" in value:
        raise _refuse("dotenv", name, "a line break")
    return f"{name}='{value}'"


_LINE_RENDERERS: dict[str, Callable[[str, str], str]] = {
    "sh": _posix,
    "bash": _posix,
    "zsh": _posix,
    "fish": _fish,
    "powershell": _powershell,
    "cmd": _cmd,
    "dotenv": _dotenv,
}
SHELLS = (*_LINE_RENDERERS, "json")


def render(values: Mapping[str, str] | Iterable[tuple[str, str]], shell: str) -> str:
    """Shell code that sets each variable to exactly its value; one statement per line."""
    items = list(values.items() if isinstance(values, Mapping) else values)
    for name, value in items:
        if not is_env_name(name):
            raise ConfigError(f"not an environment variable name: {name!r}")
        if "\0" in value:
            raise ConfigError(f"{name} contains a NUL character, which no environment can hold")
    if shell == "json":
        return json.dumps(dict(items), indent=2) + "\n"
    line = _LINE_RENDERERS.get(shell)
    if line is None:
        raise ConfigError(f"unknown shell {shell!r}: choose one of {', '.join(SHELLS)}")
    return "".join(line(name, value) + "\n" for name, value in items)
