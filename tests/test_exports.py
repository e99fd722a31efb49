"""``scopedauth env``: the renderers fed hostile values and evaluated by real shells, and the
command itself evaluated with a real token.

A renderer is right only if the shell that evaluates its output ends up with exactly the value:
each case runs the shell, which then starts Python to report its environment (so "exported"
is checked too, not only "assigned").
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scopedauth
from scopedauth.errors import ConfigError
from scopedauth.handoff.shell_env import child_environment, default_shell, render, token_variables
from scopedauth.sandbox import Sandbox
from tests.users import user_login

CLI = [sys.executable, "-m", "scopedauth"]
HOSTILE = [
    "it's",
    "'",
    "''",
    "'\\''",
    '"double" quotes',
    "$(touch PWNED)",
    "`touch PWNED`",
    "$HOME and ${HOME}",
    "%PATH% 100%",
    "line one\nline two",
    "trailing newline\n",
    "\n",
    "crlf\r\nend",
    "back\\slash \\n \\\\",
    "; rm -rf PWNED & echo | cat > PWNED",
    "*?[a-z] ~ !! #",
    "",
    "  spaced  ",
    "tab\there",
    "-n",
    "ü – € 😀 ‘smart’ ’quotes‚ ‛",
    "\x1b[31mred\x7f",
    "fish (echo x) {a,b} $fish",
]
REPORT = "import json, os, sys; print(json.dumps({k: os.environ.get(k) for k in sys.argv[1:]}))"


def _vars(values: list[str]) -> dict[str, str]:
    return {f"V{i}": v for i, v in enumerate(values)}


def _evaluate(shell: str, code: str, names: list[str], cwd: Path) -> dict[str, str | None]:
    """Let the real shell evaluate ``code``, then report the named environment variables."""
    script = cwd / "exports.txt"
    script.write_text(code, encoding="utf-8", newline="")
    report = [sys.executable, "-c", REPORT, *names]
    if shell in ("sh", "bash"):
        exe = "dash" if shell == "sh" and shutil.which("dash") else shell
        argv = [exe, "-c", 'eval "$(cat "$1")" && shift && exec "$@"', exe, str(script), *report]
    elif shell == "fish":
        argv = ["fish", "-c", "source $argv[1]; and exec $argv[2..-1]", str(script), *report]
    elif shell == "powershell":
        runner = (
            f"Get-Content -Raw '{script}' | Invoke-Expression; & '{sys.executable}' -c '{REPORT}' {' '.join(names)}"
        )
        argv = ["pwsh", "-NoProfile", "-Command", runner]
    else:
        raise AssertionError(shell)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=30, env={**os.environ})
    assert done.returncode == 0, done.stderr
    result: dict[str, str | None] = json.loads(done.stdout)
    return result


def _shells() -> list[str]:
    found = ["sh", "bash"] + [s for s in ("fish",) if shutil.which(s)]
    return found + (["powershell"] if shutil.which("pwsh") else [])


@pytest.mark.parametrize("shell", _shells())
def test_hostile_values_survive_a_real_shell(shell: str, tmp_path: Path) -> None:
    values = _vars(HOSTILE)
    got = _evaluate(shell, render(values, shell), list(values), tmp_path)
    assert got == values
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(st.characters(exclude_characters="\0", exclude_categories=["Cs"]), max_size=40))
def test_any_text_survives_bash_and_fish(value: str, tmp_path: Path) -> None:
    for shell in ("bash", "fish"):
        assert _evaluate(shell, render({"V": value}, shell), ["V"], tmp_path) == {"V": value}


@pytest.mark.parametrize("shell", ["fish", "powershell", "json"])
def test_line_breaks_in_values_do_not_break_lines(shell: str) -> None:
    """fish and PowerShell read one statement per line when piped (``| source``, ``| iex``)."""
    values = {"A": "one", "B": "x\ny\r\nz\n"}
    out = render(values, shell)
    assert out.count("\n") == (len(values) if shell != "json" else len(values) + 2)
    assert "\r" not in out


def test_dotenv_is_read_back_by_python_dotenv() -> None:
    dotenv = pytest.importorskip("dotenv")
    accepted = [v for v in HOSTILE if not any(bad in v for bad in ("'", "\\", "${", "\n", "\r"))]
    assert len(accepted) > 10
    values = _vars(accepted)
    assert dotenv.dotenv_values(stream=io.StringIO(render(values, "dotenv"))) == values


@pytest.mark.parametrize(
    ("shell", "value"),
    [
        ("dotenv", "it's"),
        ("dotenv", "a\\b"),
        ("dotenv", "${HOME}"),
        ("dotenv", "a\nb"),
        ("cmd", 'say "hi"'),
        ("cmd", "a\nb"),
        ("sh", "nul\0byte"),
    ],
)
def test_values_a_syntax_cannot_hold_are_refused_without_echoing_them(shell: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        render({"DATABRICKS_TOKEN": value}, shell)
    assert "DATABRICKS_TOKEN" in str(info.value)
    assert value not in str(info.value)


def test_cmd_is_a_batch_file_with_percent_doubled() -> None:
    out = render({"A": "100% & <b> | ^c !d", "B": ""}, "cmd")
    assert out == 'set "A=100%% & <b> | ^c !d"\nset "B="\n'


def test_powershell_doubles_every_kind_of_single_quote() -> None:
    out = render({"A": "it's ‘x’ ‚y‛", "B": "a\nb", "C": ""}, "powershell")
    assert out == ("$Env:A = 'it''s ‘‘x’’ ‚‚y‛‛'\n$Env:B = 'a' + [char]10 + 'b'\n$Env:C = ''\n")


def test_bad_names_and_unknown_shells_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        render({"BAD NAME": "x"}, "sh")
    with pytest.raises(ConfigError):
        render({"A": "x"}, "tcsh")


@pytest.mark.parametrize(
    ("shell_var", "expected"),
    [
        ("/bin/bash", "bash"),
        ("/usr/bin/zsh", "zsh"),
        ("/usr/local/bin/fish", "fish"),
        ("/bin/dash", "sh"),
        ("/usr/bin/pwsh", "powershell"),
        ("C:\\Windows\\System32\\cmd.exe", "sh"),  # $SHELL is a POSIX convention: basename rules
        ("/bin/tcsh", "sh"),
        ("", "sh"),
    ],
)
def test_default_shell_from_shell_basename(shell_var: str, expected: str) -> None:
    assert default_shell({"SHELL": shell_var}) == expected
    assert default_shell({}) == "sh"


def test_child_environment_drops_conflicting_settings_and_keeps_the_rest() -> None:
    base = {
        "PATH": "/bin",
        "DATABRICKS_CLIENT_ID": "sp",
        "DATABRICKS_CLIENT_SECRET": "s",
        "DATABRICKS_CONFIG_PROFILE": "prod",
        "DATABRICKS_TOKEN": "old",
        "DATABRICKS_USERNAME": "u",
        "DATABRICKS_PASSWORD": "p",
        "DATABRICKS_WAREHOUSE_ID": "w1",
        "ARM_CLIENT_ID": "terraform-owns-this",
    }
    env = child_environment(base, {"DATABRICKS_HOST": "https://h", "DATABRICKS_TOKEN": "new"})
    assert env == {
        "PATH": "/bin",
        "DATABRICKS_WAREHOUSE_ID": "w1",
        "ARM_CLIENT_ID": "terraform-owns-this",
        "DATABRICKS_HOST": "https://h",
        "DATABRICKS_TOKEN": "new",
    }


# -- the command ---------------------------------------------------------------------------------


@pytest.fixture
def token(sandbox: Sandbox, listener_port: int) -> scopedauth.Token:
    """A real login into the file store, which the CLI subprocesses then read."""
    return user_login(sandbox, listener_port, "file")


def _env_cli(sandbox: Sandbox, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "env", "--host", sandbox.url, "--storage", "file", *extra],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_env_output_evaluated_by_bash_and_fish(sandbox: Sandbox, token: scopedauth.Token) -> None:
    bash = _env_cli(sandbox, "--shell", "bash")
    assert bash.returncode == 0 and bash.stderr == ""
    assert [line.split("=")[0] for line in bash.stdout.splitlines()] == [
        "export DATABRICKS_HOST",
        "export DATABRICKS_TOKEN",
        "export DATABRICKS_AUTH_TYPE",
        "export SCOPEDAUTH_TOKEN_EXPIRY",
    ]
    printed = subprocess.run(
        ["bash", "-c", 'eval "$1"; printf %s "$DATABRICKS_TOKEN"', "bash", bash.stdout],
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout == token.access_token
    assert token.expiry is not None
    expected = token_variables(token)
    assert expected["SCOPEDAUTH_TOKEN_EXPIRY"].endswith("Z")
    if shutil.which("fish"):
        fish = _env_cli(sandbox, env={"SHELL": "/usr/bin/fish"})  # the default comes from $SHELL
        assert fish.stdout.startswith("set -gx DATABRICKS_HOST ")
        got = subprocess.run(
            ["fish", "-c", "echo $argv[1] | source; printf %s $DATABRICKS_TOKEN $SCOPEDAUTH_TOKEN_EXPIRY", fish.stdout],
            capture_output=True,
            text=True,
            check=True,
        )
        assert got.stdout == token.access_token + expected["SCOPEDAUTH_TOKEN_EXPIRY"]


def test_env_json_and_nothing_stored(sandbox: Sandbox, token: scopedauth.Token) -> None:
    as_json = _env_cli(sandbox, "--shell", "json")
    assert json.loads(as_json.stdout) == token_variables(token)
    assert token.access_token not in as_json.stderr
    missing = _env_cli(sandbox, "--shell", "bash", "--scopes", "files.files")
    assert missing.returncode == 4 and missing.stdout == ""
    assert "scopedauth login" in missing.stderr


def test_account_targets_export_the_account_id() -> None:
    from scopedauth.config import Target

    tok = scopedauth.Token(Target("https://accounts.cloud.databricks.com", account_id="abc-1"), "t0k")
    assert list(token_variables(tok)) == [
        "DATABRICKS_HOST",
        "DATABRICKS_ACCOUNT_ID",
        "DATABRICKS_TOKEN",
        "DATABRICKS_AUTH_TYPE",
    ]


def test_env_wins_over_a_profile_left_in_the_shell(sandbox: Sandbox, token: scopedauth.Token) -> None:
    """out=$(scopedauth env) && eval "$out" in a shell naming a service-principal profile: the SDK uses our token."""
    cfg = Path(os.environ["DATABRICKS_CONFIG_FILE"])
    cfg.write_text(f"[other]\nhost = {sandbox.url}\nclient_id = sp-client\nclient_secret = sp-secret\n")
    out = _env_cli(sandbox, "--shell", "bash")
    sdk = (
        "from databricks.sdk import WorkspaceClient; w = WorkspaceClient(); "
        "print(w.config.auth_type, w.current_user.me().user_name)"
    )
    res = subprocess.run(
        ["bash", "-c", 'eval "$1"; exec "$2" -c "$3"', "bash", out.stdout, sys.executable, sdk],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABRICKS_CONFIG_PROFILE": "other"},
    )
    assert res.returncode == 0, res.stderr[-800:]
    assert res.stdout.split() == ["pat", "demo@example.com"]
