"""The fast ``token`` entry agrees with the click CLI, and its hot path imports nothing heavy."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from scopedauth.cli.entry import parse_token_args
from scopedauth.config import Target
from scopedauth.storage.backends import FileBackend
from scopedauth.storage.store import TokenStore
from scopedauth.tokens import Token, utcnow

HOST = "https://adb-1.azuredatabricks.net"
CLICK = "import sys; from scopedauth.cli.main import main; sys.argv[0] = 'scopedauth'; main()"
HEAVY = ("flask", "werkzeug", "requests", "urllib3", "authlib", "click", "databricks", "filelock", "jinja2", "keyring")
#: standard-library modules a cache hit must not pay for either (see docs/architecture.md, "The hot path")
HEAVY_STDLIB = ("logging", "dataclasses", "inspect", "configparser", "hashlib", "shlex")


@pytest.fixture
def stored(isolated_env: object) -> Token:
    token = Token(
        target=Target(HOST, scopes=("offline_access", "sql")),
        access_token="header.payload.signature",
        refresh_token="refresh-me",
        expiry=utcnow() + timedelta(hours=1),
        granted_scopes=("offline_access", "sql"),
        token_endpoint=f"{HOST}/oidc/v1/token",
    )
    TokenStore(FileBackend()).save(token)
    return token


def both(*args: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    env = {**os.environ, "SCOPEDAUTH_STORAGE": "file"}
    fast = subprocess.run(
        [sys.executable, "-m", "scopedauth", "token", *args], capture_output=True, text=True, env=env, timeout=60
    )
    slow = subprocess.run(
        [sys.executable, "-c", CLICK, "token", *args], capture_output=True, text=True, env=env, timeout=60
    )
    return fast, slow


@pytest.mark.parametrize(
    "args",
    [
        ["--host", HOST, "--scopes", "sql"],
        ["--host=" + HOST, "--scopes=sql", "--output=json"],
        ["--host", HOST, "-s", "sql", "-o", "json"],
        ["--host", HOST],
        ["--host", HOST, "--scopes", "sql files.files"],
        ["--host", HOST, "--scopes", "sql", "--no-refresh-token"],
        ["--host", "http://example.com"],
        ["--profile", "missing"],
        [],
        ["--host", HOST, "--storage", "memory", "--scopes", "sql"],
    ],
)
def test_fast_path_matches_click(stored: Token, args: list[str]) -> None:
    fast, slow = both(*args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)


def test_fast_path_prints_the_token(stored: Token) -> None:
    fast, _ = both("--host", HOST, "--scopes", "sql")
    assert fast.returncode == 0 and fast.stdout == stored.access_token + "\n" and fast.stderr == ""


@pytest.mark.parametrize("args", [["--help"], ["--hots", HOST], ["--output", "yaml"], ["--host"], ["-x"]])
def test_anything_unusual_goes_to_click(args: list[str]) -> None:
    assert parse_token_args(args) is None


def test_hot_path_imports_nothing_heavy(stored: Token) -> None:
    probe = (
        "import sys\n"
        f"sys.argv = ['scopedauth', 'token', '--host', {HOST!r}, '--scopes', 'sql']\n"
        "from scopedauth.cli import entry\n"
        "try:\n    entry.main()\nexcept SystemExit as e:\n    code = e.code\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({(*HEAVY, *HEAVY_STDLIB)!r}))\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SCOPEDAUTH_STORAGE": "file"},
    )
    assert res.stdout.strip() == stored.access_token
    assert res.stderr.endswith("HEAVY="), res.stderr


def test_a_warning_on_the_fast_path_gets_the_handlers_format_and_sanitising(
    stored: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache hit may still say something (a leftover profile ignored): through the CLI's handler,
    prefixed and with control characters escaped, exactly as click's path says it."""
    config = Path(os.environ["DATABRICKS_CONFIG_FILE"])
    config.write_text("[other]\nhost = https://other.cloud.databricks.com\nclient_id = x\x1b]0;pwned\x07\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "other")
    fast, slow = both("--host", HOST, "--scopes", "sql")
    assert fast.returncode == 0 and fast.stdout == stored.access_token + "\n"
    assert fast.stderr.startswith("scopedauth: warning: ") and "\x1b" not in fast.stderr
    assert fast.stderr == slow.stderr
