"""The exact text each hand-off renderer writes, and the variables ``env`` and ``exec`` hand on.

tests/test_exports.py proves renderers right by running real shells; these pin the output
byte for byte (so a mutation that still happens to evaluate is caught), the account-target
variables, the refusals (``\\r`` in cmd and dotenv), zsh, and the JSON layouts people parse.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone

import pytest

import scopedauth
from scopedauth.cli.handoff import run_exec
from scopedauth.config import Target
from scopedauth.errors import ConfigError
from scopedauth.handoff.shell_env import (
    CONFLICTING,
    SHELLS,
    child_environment,
    default_shell,
    render,
    token_variables,
)
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from scopedauth.tokens import Token, utcnow

ACCOUNT = Target("https://accounts.cloud.databricks.com", account_id="abc-1", scopes=("all-apis", "offline_access"))
EXPIRY = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
VALUES = {"A": "it's $x", "B": ""}


def test_posix_shells_write_the_same_single_quoted_exports() -> None:
    expected = "export A='it'\\''s $x'\nexport B=''\n"
    for shell in ("sh", "bash", "zsh"):
        assert render(VALUES, shell) == expected, shell


def test_fish_quotes_and_spells_line_breaks_outside_the_quotes() -> None:
    assert render({"A": "a\\b'c", "B": ""}, "fish") == "set -gx A 'a\\\\b\\'c'\nset -gx B ''\n"
    assert render({"A": "x\r\ny\n"}, "fish") == "set -gx A 'x'\\r\\n'y'\\n\n"
    assert render({"A": "\nx"}, "fish") == "set -gx A ''\\n'x'\n"


def test_powershell_spells_each_line_break_as_a_char() -> None:
    assert render({"A": "a\rb"}, "powershell") == "$Env:A = 'a' + [char]13 + 'b'\n"
    assert render({"A": "\n"}, "powershell") == "$Env:A = [char]10\n"


@pytest.mark.parametrize(
    ("shell", "value", "what"),
    [
        ("cmd", "a\rb", "a double quote or a line break"),
        ("cmd", "a\nb", "a double quote or a line break"),
        ("cmd", 'a"b', "a double quote or a line break"),
        ("dotenv", "a\rb", "a line break"),
        ("dotenv", "a\nb", "a line break"),
        ("dotenv", "a'b", "a single quote"),
        ("dotenv", "a\\b", "a backslash"),
        ("dotenv", "a${b}", "'${'"),
    ],
)
def test_refusals_name_the_variable_and_the_character_class(shell: str, value: str, what: str) -> None:
    with pytest.raises(ConfigError) as info:
        render({"DATABRICKS_TOKEN": value}, shell)
    assert str(info.value) == (
        f"DATABRICKS_TOKEN contains {what}, which {shell} syntax cannot hold safely; use --shell json"
    )


def test_dotenv_and_cmd_write_what_they_can_hold() -> None:
    assert render({"A": "x $y $ {z} %z%", "B": ""}, "dotenv") == "A='x $y $ {z} %z%'\nB=''\n"
    assert render({"A": "x %y%"}, "cmd") == 'set "A=x %%y%%"\n'


def test_json_is_indented_by_two_in_the_given_order() -> None:
    assert render({"B": "2", "A": "é\n"}, "json") == '{\n  "B": "2",\n  "A": "\\u00e9\\n"\n}\n'


def test_render_takes_pairs_too_and_checks_every_name_and_value() -> None:
    assert render([("A", "1"), ("B", "2")], "sh") == "export A='1'\nexport B='2'\n"
    with pytest.raises(ConfigError, match=r"^not an environment variable name: '1A'$"):
        render([("A", "1"), ("1A", "2")], "json")
    with pytest.raises(ConfigError, match=r"^B contains a NUL character, which no environment can hold$"):
        render([("A", "1"), ("B", "\0")], "json")
    with pytest.raises(ConfigError) as info:
        render({"A": "1"}, "tcsh")
    assert str(info.value) == f"unknown shell 'tcsh': choose one of {', '.join(SHELLS)}"
    assert SHELLS == ("sh", "bash", "zsh", "fish", "powershell", "cmd", "dotenv", "json")


@pytest.mark.parametrize(
    ("shell_var", "expected"),
    [
        ("/bin/sh", "sh"),
        ("/bin/ksh", "sh"),
        ("/bin/mksh", "sh"),
        ("/bin/ash", "sh"),
        ("/usr/bin/zsh/", "zsh"),
        ("/usr/bin/BASH", "bash"),
        ("C:\\Program Files\\PowerShell\\7\\pwsh.exe\\", "sh"),
        ("/opt/pwsh.exe", "powershell"),
        ("/opt/PowerShell", "powershell"),
        ("/opt/fish.EXE", "fish"),
        ("cmd", "cmd"),
        ("/bin/dash", "sh"),
        ("/bin/bashX", "sh"),  # only slashes are trimmed: an unknown name is sh
    ],
)
def test_default_shell_aliases(shell_var: str, expected: str) -> None:
    assert default_shell({"SHELL": shell_var}) == expected


# -- the variables ---------------------------------------------------------------------------------


def test_workspace_token_variables_in_order() -> None:
    tok = Token(Target("https://h.cloud.databricks.com"), "t0k", expiry=EXPIRY)
    assert list(token_variables(tok).items()) == [
        ("DATABRICKS_HOST", "https://h.cloud.databricks.com"),
        ("DATABRICKS_TOKEN", "t0k"),
        ("DATABRICKS_AUTH_TYPE", "pat"),
        ("SCOPEDAUTH_TOKEN_EXPIRY", "2030-01-02T03:04:05Z"),
    ]
    assert "SCOPEDAUTH_TOKEN_EXPIRY" not in token_variables(tok.replace(expiry=None))


def test_account_token_variables_carry_the_account_id() -> None:
    assert token_variables(Token(ACCOUNT, "t0k")) == {
        "DATABRICKS_HOST": "https://accounts.cloud.databricks.com",
        "DATABRICKS_ACCOUNT_ID": "abc-1",
        "DATABRICKS_TOKEN": "t0k",
        "DATABRICKS_AUTH_TYPE": "pat",
    }


def test_every_conflicting_setting_is_dropped_and_ours_win() -> None:
    names = {
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
    }
    assert set(CONFLICTING) == names
    base = {name: "theirs" for name in names} | {"DATABRICKS_HOST": "theirs", "HOME": "/h"}
    assert child_environment(base, {"DATABRICKS_ACCOUNT_ID": "abc-1"}) == {
        "DATABRICKS_HOST": "theirs",  # not conflicting: the caller's values replace it
        "HOME": "/h",
        "DATABRICKS_ACCOUNT_ID": "abc-1",
    }


CHILD = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('DATABRICKS_')}))"


def test_exec_hands_an_account_target_its_account_id(capfd: pytest.CaptureFixture[str]) -> None:
    store = TokenStore(MemoryBackend())
    token = Token(ACCOUNT, "eyJ.account", expiry=utcnow() + timedelta(hours=1))
    store.save(token)
    base = {**os.environ, "DATABRICKS_ACCOUNT_ID": "someone-else", "DATABRICKS_CONFIG_PROFILE": "prod"}
    code = run_exec(
        [sys.executable, "-c", CHILD],
        store=store,
        environ=base,
        host=ACCOUNT.host,
        account_id="abc-1",
        scopes="all-apis",
    )
    assert code == 0
    seen = json.loads(capfd.readouterr().out)
    assert seen["DATABRICKS_ACCOUNT_ID"] == "abc-1" and seen["DATABRICKS_HOST"] == ACCOUNT.host
    assert seen["DATABRICKS_AUTH_TYPE"] == "metadata-service" and seen["DATABRICKS_TOKEN"] == "eyJ.account"
    assert seen["DATABRICKS_METADATA_SERVICE_URL"].startswith("http://127.0.0.1:")
    assert "DATABRICKS_CONFIG_PROFILE" not in seen


def test_the_stored_record_is_compact_sorted_json() -> None:
    """README: the keyring value is JSON any program can read; its layout is pinned (compact, keys sorted)."""
    token = Token(ACCOUNT, "eyJ.a", refresh_token="r", expiry=EXPIRY, obtained_at=EXPIRY)
    text = token.to_json()
    assert text == json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)
    assert text.startswith('{"access_token":"eyJ.a","account_id":"abc-1","client_id":"databricks-cli",')
    assert " " not in text.replace("https://", "")
    assert scopedauth.Token.from_json(text) == token
