"""Day two: early refresh, failing servers, dead grants, status, logout, many scope sets."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import scopedauth
from scopedauth.config import Target
from scopedauth.errors import ConfigError, LoginRequiredError
from scopedauth.grants import session
from scopedauth.sandbox import Sandbox
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.locks import lock_path
from scopedauth.storage.store import TokenStore
from tests.users import user_login

CLI = [sys.executable, "-m", "scopedauth"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, env={**os.environ, "SCOPEDAUTH_STORAGE": "file"}
    )


def test_refresh_ahead_inside_the_window(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    first = user_login(sandbox, listener_port, store)
    assert first.expiry is not None
    # 4 minutes left of an hour: still valid, but inside min(5 min, half the lifetime)
    store.save(
        first.replace(
            expiry=first.obtained_at + timedelta(minutes=4), obtained_at=first.obtained_at - timedelta(minutes=56)
        )
    )
    session.forget_memory()
    fresh = scopedauth.get_token(first.target, store=store)
    assert fresh.access_token != first.access_token
    assert sandbox.stats.refreshes == 1


def test_failed_early_refresh_serves_valid_token_warns_once_and_holds_off(
    sandbox: Sandbox, listener_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    store = TokenStore(MemoryBackend())
    first = user_login(sandbox, listener_port, store)
    store.save(
        first.replace(
            expiry=first.obtained_at + timedelta(minutes=4), obtained_at=first.obtained_at - timedelta(minutes=56)
        )
    )
    session.forget_memory()
    sandbox.fail_next_token_requests(100, status=503)
    before = sandbox.stats.token_requests
    with caplog.at_level(logging.WARNING, logger="scopedauth"):
        results = {scopedauth.get_token(first.target, store=store).access_token for _ in range(20)}
    assert results == {first.access_token}
    warnings = [r for r in caplog.records if "early refresh failed" in r.getMessage()]
    assert len(warnings) == 1
    assert first.access_token not in caplog.text and (first.refresh_token or "") not in caplog.text
    assert sandbox.stats.token_requests - before == 1, "20 calls must not mean 20 refresh attempts"


def test_expired_token_and_failing_server_is_an_error_not_a_stale_token(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    first = user_login(sandbox, listener_port, store)
    store.save(first.replace(expiry=first.obtained_at - timedelta(minutes=1)))
    session.forget_memory()
    sandbox.fail_next_token_requests(10, status=503)
    with pytest.raises(scopedauth.ScopedAuthError) as info:
        scopedauth.get_token(first.target, store=store)
    assert not isinstance(info.value, LoginRequiredError)  # the grant is fine; the server is not
    assert store.load(first.target) is not None


def test_dead_grant_status_shows_needs_login(sandbox: Sandbox, listener_port: int) -> None:
    first = user_login(sandbox, listener_port, "file")
    from scopedauth.oauth import client as oauth

    oauth.refresh(first)  # rotate behind our back: the stored refresh token is now reused → family revoked
    file_store = session.store_for("file")
    file_store.save(first.replace(expiry=first.obtained_at - timedelta(seconds=1)))
    session.forget_memory()
    res = cli("token", "--host", sandbox.url, "--scopes", "sql")
    assert res.returncode == 4 and "scopedauth login --host" in res.stderr
    status = json.loads(cli("status", "--output", "json").stdout)
    assert [(e["host"], e["state"], e["refreshable"]) for e in status] == [(sandbox.url, "needs-login", False)]
    assert "needs-login" in cli("status").stdout


def test_many_scope_sets_side_by_side(sandbox: Sandbox, listener_port: int) -> None:
    a = user_login(sandbox, listener_port, "file", "sql")
    b = user_login(sandbox, listener_port, "file", "sql dashboards.genie")
    assert a.target.key != b.target.key
    pick_a = cli("token", "--host", sandbox.url, "--scopes", "sql")
    pick_b = cli("token", "--host", sandbox.url, "--scopes", "dashboards.genie,sql")
    assert (pick_a.stdout.strip(), pick_b.stdout.strip()) == (a.access_token, b.access_token)
    ambiguous = cli("token", "--host", sandbox.url)
    assert ambiguous.returncode == 2
    assert "--scopes 'dashboards.genie offline_access sql'" in ambiguous.stderr
    assert "--scopes 'offline_access sql'" in ambiguous.stderr
    with pytest.raises(ConfigError):
        scopedauth.get_token(host=sandbox.url, store="file")


def test_logout_all_revokes_deletes_and_removes_lock_files(sandbox: Sandbox, listener_port: int) -> None:
    a = user_login(sandbox, listener_port, "file", "sql")
    b = user_login(sandbox, listener_port, "file", "files.files")
    assert lock_path(a.target.key).exists() and lock_path(b.target.key).exists()
    res = cli("logout", "--all")
    assert res.returncode == 0
    assert res.stderr.count("revoked and deleted") == 2
    assert sandbox.stats.revocations == 2
    assert not lock_path(a.target.key).exists() and not lock_path(b.target.key).exists()
    assert json.loads(cli("status", "--output", "json").stdout) == []
    # the revoked grant is really dead at the server
    with pytest.raises(scopedauth.errors.InvalidGrantError):
        from scopedauth.oauth import client as oauth

        oauth.refresh(a)


def test_logout_without_revocation_endpoint_says_only_deleted(listener_port: int) -> None:
    from scopedauth.sandbox import SandboxConfig

    config = SandboxConfig(
        redirect_uris={"databricks-cli": [f"http://localhost:{listener_port}"]}, advertise_revocation=False
    )
    with Sandbox(config) as sb:
        user_login(sb, listener_port, "file")
        res = cli("logout", "--host", sb.url, "--scopes", "sql")
        assert "deleted (not revoked)" in res.stderr
        assert sb.stats.revocations == 0


def test_target_key_is_the_keyring_username() -> None:
    t = Target("https://adb-1.azuredatabricks.net", scopes=("sql", "offline_access"))
    assert t.key == "https://adb-1.azuredatabricks.net|databricks-cli|offline_access sql"


def test_login_without_scopes_honours_the_profiles_refresh_setting(isolated_env: object, tmp_path: object) -> None:
    import pathlib

    cfg = pathlib.Path(os.environ["DATABRICKS_CONFIG_FILE"])
    cfg.write_text("[p]\nhost = https://adb-1.azuredatabricks.net\ndisable_oauth_refresh_token = true\n")
    assert session.resolve(for_login=True, profile="p").scopes == ("all-apis",)
    cfg.write_text("[p]\nhost = https://adb-1.azuredatabricks.net\n")
    assert session.resolve(for_login=True, profile="p").scopes == ("all-apis", "offline_access")


@pytest.fixture
def frozen() -> Iterator[Callable[[Path], None]]:
    """Make a directory immutable (no entry added or removed, even by root); undone afterwards."""
    done: list[str] = []

    def freeze(path: Path) -> None:
        res = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if res.returncode != 0:
            pytest.skip(f"cannot make {path} immutable here (chattr needs root): {res.stderr!r}")
        done.append(str(path))

    yield freeze
    for path in done:
        subprocess.run(["chattr", "-i", path], check=True)


def test_logout_when_the_lock_file_cannot_be_removed(
    sandbox: Sandbox, listener_port: int, frozen: Callable[[Path], None]
) -> None:
    # what Windows does to an open lock file (WinError 32), an immutable directory does here
    token = user_login(sandbox, listener_port, "file", "sql")
    lock = lock_path(token.target.key)
    assert lock.exists()
    frozen(lock.parent)
    res = cli("logout", "--host", sandbox.url, "--scopes", "sql")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "revoked and deleted" in res.stderr
    assert lock.exists()  # left behind, harmlessly
    assert json.loads(cli("status", "--output", "json").stdout) == []
