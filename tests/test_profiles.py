"""``login --save-scopes``: the config file after the write, compared byte for byte."""

from __future__ import annotations

import configparser
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopedauth.config import resolve_target
from scopedauth.errors import ConfigError
from scopedauth.handoff.profiles import profile_for_save, save_scopes, with_scopes
from scopedauth.sandbox import Sandbox

CLI = [sys.executable, "-m", "scopedauth"]
SCOPES = ["sql", "files.files", "offline_access"]

ORIGINAL = (
    b"; my workspaces\r\n"
    b"[DEFAULT]\r\n"
    b"host = https://default.cloud.databricks.com\r\n"
    b"\r\n"
    b"# staging: the team's\r\n"
    b"[staging]\r\n"
    b"host   =   https://staging.cloud.databricks.com\r\n"
    b"auth_type = databricks-cli\r\n"
    b"\r\n"
    b"\r\n"
    b"# production comes last\r\n"
    b"[prod]\r\n"
    b"host = https://prod.cloud.databricks.com\r\n"
    b"Scopes: sql\r\n"
    b"  dashboards.genie\r\n"
    b"\r\n"
    b"  all-apis\r\n"
    b"cluster_id = 0101-abc\r\n"
    b"[empty]\r\n"
    b"[last]\r\n"
    b"host = https://last.cloud.databricks.com"
)


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "databrickscfg"  # the isolated_env fixture points DATABRICKS_CONFIG_FILE here
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (
            "staging",  # added after the section's last setting, before its trailing blank lines
            ORIGINAL.replace(
                b"auth_type = databricks-cli\r\n",
                b"auth_type = databricks-cli\r\nscopes = files.files, sql\r\n",
            ),
        ),
        (
            "prod",  # replaced where it stands; key spelling and delimiter kept; continuation lines gone
            ORIGINAL.replace(
                b"Scopes: sql\r\n  dashboards.genie\r\n\r\n  all-apis\r\n",
                b"Scopes: files.files, sql\r\n\r\n",
            ),
        ),
        ("empty", ORIGINAL.replace(b"[empty]\r\n", b"[empty]\r\nscopes = files.files, sql\r\n")),
        ("last", ORIGINAL + b"\r\nscopes = files.files, sql"),  # no final line end before, none after
        (
            "DEFAULT",
            ORIGINAL.replace(
                b"host = https://default.cloud.databricks.com\r\n",
                b"host = https://default.cloud.databricks.com\r\nscopes = files.files, sql\r\n",
            ),
        ),
    ],
)
def test_only_the_scopes_line_changes(tmp_path: Path, profile: str, expected: bytes) -> None:
    path = _write(tmp_path, ORIGINAL)
    assert save_scopes(profile, SCOPES) == path
    assert path.read_bytes() == expected


def test_lf_file_stays_lf_and_a_second_save_replaces_in_place(tmp_path: Path) -> None:
    path = _write(tmp_path, b"[a]\nhost = https://a.cloud.databricks.com\n\n[b]\nhost = https://b\n")
    save_scopes("a", ["sql"])
    assert path.read_bytes() == b"[a]\nhost = https://a.cloud.databricks.com\nscopes = sql\n\n[b]\nhost = https://b\n"
    save_scopes("a", ["dashboards.genie", "sql", "offline_access"])
    assert path.read_bytes() == (
        b"[a]\nhost = https://a.cloud.databricks.com\nscopes = dashboards.genie, sql\n\n[b]\nhost = https://b\n"
    )


def test_the_sdk_and_our_resolver_read_the_saved_scopes(tmp_path: Path, sandbox: Sandbox) -> None:
    from databricks.sdk.config import Config
    from databricks.sdk.credentials_provider import CredentialsStrategy

    class Fixed(CredentialsStrategy):
        def auth_type(self) -> str:
            return "fixed"

        def __call__(self, cfg: Any) -> Any:
            return lambda: {"Authorization": "Bearer x"}

    path = _write(tmp_path, f"[dev]\nhost = {sandbox.url}\n".encode())
    save_scopes("dev", SCOPES)
    assert Config(profile="dev", config_file=str(path), credentials_strategy=Fixed()).scopes == ["files.files", "sql"]
    assert resolve_target(profile="dev").scopes == ("files.files", "offline_access", "sql")


def test_mode_and_symlink_are_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.cfg"
    real.write_bytes(b"[a]\nhost = https://a\n")
    real.chmod(0o600)
    link = tmp_path / "databrickscfg"
    link.symlink_to(real)
    save_scopes("a", ["sql"])
    assert link.is_symlink() and real.read_bytes() == b"[a]\nhost = https://a\nscopes = sql\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    ("data", "profile", "message"),
    [
        (b"[a]\nhost = https://a\n", "b", r"no \[b\] section"),
        (b"[a]\nhost = https://a\n", "a", None),  # only offline_access: nothing to save (below)
        (b"no header = 1\n[a]\n", "a", "cannot read line 1"),
        (b"[a]\nnot a setting\n", "a", "cannot read line 2"),
    ],
)
def test_refusals_leave_the_file_untouched(tmp_path: Path, data: bytes, profile: str, message: str | None) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match=message or "no scopes to save"):
        save_scopes(profile, ["offline_access"] if message is None else ["sql"])
    assert path.read_bytes() == data


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        save_scopes("a", ["sql"])


def test_profile_for_save_needs_a_named_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, b"[DEFAULT]\nhost = https://d\n[p]\nhost = https://p\n[__settings__]\ndefault_profile = p\n")
    assert profile_for_save({"profile": "p"}) == "p"
    assert profile_for_save({}) == "p"  # [__settings__] default_profile names it
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "DEFAULT")
    assert profile_for_save({}) == "DEFAULT"
    monkeypatch.delenv("DATABRICKS_CONFIG_PROFILE")
    with pytest.raises(ConfigError, match="--save-scopes needs a profile"):
        profile_for_save({"host": "https://x.cloud.databricks.com"})


_LINES = st.sampled_from(
    ["", "  ", "# c", "; c", "host = https://h", "key: v", "  cont", "scopes = old", "[a]", "[b]", "Scopes=x"]
)


@settings(max_examples=200, deadline=None)
@given(body=st.lists(_LINES, max_size=12), crlf=st.booleans(), final=st.booleans())
def test_property_everything_but_scopes_reads_back_the_same(body: list[str], crlf: bool, final: bool) -> None:
    eol = "\r\n" if crlf else "\n"
    text = eol.join(["[a]", *body]) + (eol if final else "")
    before = configparser.ConfigParser(interpolation=None)
    try:
        before.read_string(text)
    except configparser.Error:
        return  # not a file databricks-sdk could read either
    after_text = with_scopes(text, "a", ["sql", "offline_access"])
    after = configparser.ConfigParser(interpolation=None)
    after.read_string(after_text)
    assert after.sections() == before.sections()
    for section in before.sections():
        got, want = dict(after[section]), dict(before[section])
        if section == "a":
            assert got.pop("scopes") == "sql"
            want.pop("scopes", None)
        assert got == want
    assert ("\r\n" in after_text) == ("\r\n" in text)
    assert after_text.replace("\r\n", "").count("\r") == text.replace("\r\n", "").count("\r")


def _port_args(port: int) -> list[str]:
    return ["--port", str(port), "--timeout", "30", "--storage", "file"]


def test_login_save_scopes_then_only_the_profile_is_needed(
    sandbox: Sandbox, listener_port: int, browser_script: str, tmp_path: Path
) -> None:
    path = _write(tmp_path, f"# mine\n[dev]\nhost = {sandbox.url}\n\n[other]\nhost = https://o\n".encode())
    env = {**os.environ, "BROWSER": browser_script}
    login = subprocess.run(
        [*CLI, "login", "--profile", "dev", "--save-scopes", "--scopes", "sql files.files", *_port_args(listener_port)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert login.returncode == 0, login.stderr
    assert f"Saved the scopes in [dev] of {path}" in login.stderr
    assert path.read_bytes() == (
        f"# mine\n[dev]\nhost = {sandbox.url}\nscopes = files.files, sql\n\n[other]\nhost = https://o\n".encode()
    )
    token = subprocess.run(
        [*CLI, "token", "--profile", "dev", "--storage", "file"], capture_output=True, text=True, timeout=30
    )
    assert token.returncode == 0 and token.stdout.strip()


def test_save_scopes_without_a_profile_fails_before_the_browser(sandbox: Sandbox, listener_port: int) -> None:
    done = subprocess.run(
        [*CLI, "login", "--host", sandbox.url, "--save-scopes", "--port", str(listener_port), "--storage", "file"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2 and "--save-scopes needs a profile" in done.stderr
    assert sandbox.stats.authorize_requests == 0
