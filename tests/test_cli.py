"""The ``scopedauth`` command as users run it: separate processes, real keyring, real browser script."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scopedauth.sandbox import Sandbox
from tests.conftest import APPROVE, KEYRING_SERVICE, require_keyring

CLI = [sys.executable, "-m", "scopedauth"]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def login_args(sb: Sandbox, port: int, scopes: str = "sql files.files") -> list[str]:
    return ["login", "--host", sb.url, "--scopes", scopes, "--port", str(port), "--timeout", "30"]


def test_login_in_one_process_token_in_another_real_keyring(
    sandbox: Sandbox, listener_port: int, browser_script: str, tmp_path: Path
) -> None:
    require_keyring()
    page = tmp_path / "page.html"
    login = run(
        *login_args(sandbox, listener_port),
        env={"BROWSER": browser_script, "SCOPEDAUTH_TEST_PAGE": str(page)},
    )
    assert login.returncode == 0, login.stderr
    assert login.stdout == ""  # nothing for machines from login
    assert "SecretService" in login.stderr
    assert "Waiting up to" in login.stderr and "Ctrl-C" in login.stderr
    assert "Signed in" in page.read_text() and "files.files" in page.read_text()

    token = run("token", "--host", sandbox.url, "--scopes", "sql,files.files")
    assert token.returncode == 0, token.stderr
    access = token.stdout.strip()
    assert access and token.stderr == ""
    # the same token, read by a third process straight from the Secret Service
    from keyring.backends.SecretService import Keyring

    key = f"{sandbox.url}|databricks-cli|files.files offline_access sql"
    record = json.loads(Keyring().get_password(KEYRING_SERVICE, key))
    assert record["version"] == 1 and record["access_token"] == access
    assert access not in login.stderr + login.stdout

    as_json = json.loads(run("token", "--host", sandbox.url, "--output", "json").stdout)
    assert set(as_json) == {"access_token", "token_type", "expiry"}
    assert as_json["access_token"] == access and as_json["token_type"] == "Bearer"

    status = run("status")
    assert sandbox.url in status.stdout and "state=valid" in status.stdout
    assert access not in status.stdout + status.stderr
    status_json = json.loads(run("status", "--output", "json").stdout)
    assert [e["state"] for e in status_json if e["host"] == sandbox.url] == ["valid"]

    out = run("logout", "--host", sandbox.url)
    assert out.returncode == 0 and "revoked and deleted" in out.stderr
    assert sandbox.stats.revocations == 1
    assert Keyring().get_password(KEYRING_SERVICE, key) is None
    again = run("token", "--host", sandbox.url)
    assert again.returncode == 4


def test_token_with_nothing_stored_prints_the_login_command(sandbox: Sandbox) -> None:
    res = run("token", "--host", sandbox.url, "--scopes", "sql", "--storage", "file")
    assert res.returncode == 4
    assert res.stdout == ""
    assert f"scopedauth login --host {sandbox.url} --scopes sql" in res.stderr
    assert sandbox.stats.authorize_requests == 0  # token never starts a login


def test_bad_host_is_a_config_error(sandbox: Sandbox) -> None:
    res = run("token", "--host", "http://example.com", "--storage", "file")
    assert res.returncode == 2 and "https" in res.stderr and res.stdout == ""


def test_deny_in_browser_exits_nonzero_and_stores_nothing(
    sandbox: Sandbox, listener_port: int, browser_script: str
) -> None:
    res = run(
        *login_args(sandbox, listener_port),
        "--storage",
        "file",
        env={"BROWSER": browser_script, "SCOPEDAUTH_TEST_DECISION": "deny"},
    )
    assert res.returncode == 5
    assert "access_denied" in res.stderr
    assert run("status", "--storage", "file", "--output", "json").stdout.strip() == "[]"


@pytest.fixture
def sigint_heard() -> Iterator[None]:
    """Processes started meanwhile get SIGINT at its default, as from a person's terminal.

    A shell starts a background job with SIGINT ignored, and exec keeps ignored signals: a suite
    run in the background would hand the login a Ctrl-C it cannot hear. A signal with a handler
    is reset to the default by exec.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_heard")
def test_ctrl_c_while_waiting_leaves_nothing_and_frees_the_port(sandbox: Sandbox, listener_port: int) -> None:
    with subprocess.Popen(
        [*CLI, *login_args(sandbox, listener_port), "--no-browser", "--storage", "file"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    ) as proc:
        try:
            assert proc.stderr is not None
            deadline = time.monotonic() + 20
            seen = ""
            while "Waiting" not in seen and time.monotonic() < deadline:
                seen += proc.stderr.readline()
            assert f"ssh -L {listener_port}:localhost:{listener_port}" in seen
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()  # a failure leaves no process behind; Popen's with reaps it and closes the pipes
    assert proc.returncode == 130, err
    assert "cancelled" in err
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", listener_port))
    assert run("status", "--storage", "file", "--output", "json").stdout.strip() == "[]"


def test_demo_headless_runs_the_whole_story() -> None:
    port = str(_free_port())
    res = run("demo", "--headless", "--port", port, timeout=120)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["app_status"] == 200
    assert summary["missing_scope_status"] == 403
    assert summary["granted_scopes"] == ["files.files", "offline_access", "sql"]
    assert "Provided OAuth token does not have required scopes: dashboards.genie" in res.stderr
    assert "Tokens will be stored in:" in res.stderr
    # --app: the scopes are found, not typed, and the fronted app sees the signed-in user
    assert summary["app_scopes"] == ["iam.access-control:read", "iam.current-user:read", "offline_access", "sql"]
    assert summary["fronted_app_status"] == 200
    assert "App hello (" in res.stderr and "needs: iam.access-control:read iam.current-user:read sql" in res.stderr
    assert '"user": "demo@example.com"' in res.stderr and '"user_token_forwarded": true' in res.stderr


def _free_port() -> int:
    from tests.conftest import free_port

    return free_port()


def _stored_file_record(host: str, scopes: tuple[str, ...] = ("offline_access", "sql")) -> str:
    """One user record in the test's file store, written straight through the store; its key."""
    from scopedauth.config import Target
    from scopedauth.storage.backends import FileBackend
    from scopedauth.storage.store import TokenStore
    from scopedauth.tokens import Token, utcnow

    target = Target(host, scopes=scopes)
    TokenStore(FileBackend()).save(
        Token(
            target=target,
            access_token="at-not-real",
            token_type="Bearer",
            expiry=None,
            refresh_token=None,
            granted_scopes=scopes,
            token_endpoint=f"{host}/oidc/v1/token",
            obtained_at=utcnow(),
        )
    )
    return target.key


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--host", "https://other.cloud.databricks.com"], "--host"),
        (["--profile", "p2"], "--profile"),
        (["--account-id", "abc"], "--account-id"),
        (["--client-id", "app"], "--client-id"),
        (["--scopes", "sql"], "--scopes"),
        (["--no-refresh-token"], "--no-refresh-token"),
    ],
)
def test_logout_all_with_a_target_option_is_a_usage_error(extra: list[str], named: str, tmp_path: Path) -> None:
    key = _stored_file_record("https://h.cloud.databricks.com")
    res = run("logout", "--all", *extra, "--storage", "file")
    assert res.returncode == 2, res.stderr
    assert f"--all logs out every stored target; it cannot be combined with {named}" in res.stderr
    assert "Traceback" not in res.stderr
    assert key in json.loads((tmp_path / "config" / "tokens.json").read_text())  # nothing was deleted


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--timeout", "-1"),
        ("--timeout", "inf"),
        ("--timeout", "nan"),
        ("--timeout", "0.5"),
        ("--timeout", "1e9"),
        ("--port", "0"),
        ("--port", "-1"),
        ("--port", "65536"),
    ],
)
def test_login_timeout_and_port_out_of_range_are_usage_errors(sandbox: Sandbox, option: str, value: str) -> None:
    res = run("login", "--host", sandbox.url, "--no-browser", "--storage", "file", option, value)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and option in res.stderr
    assert sandbox.stats.authorize_requests == 0


def test_debug_logs_each_request_never_a_secret(sandbox: Sandbox, listener_port: int, tmp_path: Path) -> None:
    launcher = tmp_path / "launcher.sh"  # says something (not the URL), then plays the user
    launcher.write_text(f'#!/bin/sh\necho launcher-output\nexec "{sys.executable}" "{APPROVE}" "$1"\n')
    launcher.chmod(0o755)
    opts = ["--storage", "file", "--browser-command", f"{launcher} %s"]
    login = run("--debug", *login_args(sandbox, listener_port), *opts)
    assert login.returncode == 0, login.stderr
    assert login.stdout == ""
    base = sandbox.url
    assert f"scopedauth: debug: GET {base}/oidc/.well-known/oauth-authorization-server → 200" in login.stderr
    assert f"scopedauth: debug: POST {base}/oidc/v1/token → 200" in login.stderr
    assert "launcher-output" in login.stderr  # --debug also lets the launcher speak, on stderr
    raw = json.loads((tmp_path / "config" / "tokens.json").read_text())
    (stored,) = [json.loads(v) for k, v in raw.items() if not k.startswith(".")]

    me = run("--debug", "call", f"{base}/api/2.0/preview/scim/v2/Me?x=secret-query", "--storage", "file")
    assert me.returncode == 0, me.stderr
    assert f"scopedauth: debug: GET {base}/api/2.0/preview/scim/v2/Me → 200" in me.stderr
    out = run("--debug", "logout", "--host", base, "--scopes", "sql files.files", "--storage", "file")
    assert out.returncode == 0, out.stderr
    assert f"scopedauth: debug: POST {base}/oidc/v1/revoke → 200" in out.stderr

    debug = [line for res in (login, me, out) for line in res.stderr.splitlines() if "debug" in line]
    assert len(debug) >= 5
    for leak in ("?", "code", "verifier", "state", "secret", "Bearer", "token=", "Authorization"):
        assert not [line for line in debug if leak in line], leak
    everything = login.stderr + me.stderr + out.stderr
    assert stored["access_token"] not in everything and stored["refresh_token"] not in everything

    quiet = run(*login_args(sandbox, listener_port), *opts)
    assert quiet.returncode == 0, quiet.stderr
    assert "debug" not in quiet.stderr and "launcher-output" not in quiet.stderr


def test_demo_logout_note_says_what_happened() -> None:
    from scopedauth.cli.demo import logout_note
    from scopedauth.config import Target
    from scopedauth.grants.manage import LogoutResult

    target = Target("http://127.0.0.1:1", scopes=("sql",))
    assert "revoked and removed" in logout_note([LogoutResult(target, True, True)], "memory")
    not_revoked = logout_note([LogoutResult(target, False, True)], "memory")
    assert "removed from memory" in not_revoked and "did not confirm revoking" in not_revoked
    assert "revoked" not in logout_note([LogoutResult(target, False, True)], "memory").split(";")[0]
    assert "neither revoked nor found" in logout_note([LogoutResult(target, False, False)], "memory")


def test_token_for_a_profile_prints_a_login_command_naming_the_profile(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "databrickscfg").write_text(
        f"[p2]\nhost = {sandbox.url}\nscopes = sql\n\n[bare]\nhost = {sandbox.url}\n"
    )
    res = run("token", "-p", "p2", "--storage", "file")
    assert res.returncode == 4
    assert res.stderr.rstrip().endswith("Run: scopedauth login --profile p2")
    other = run("token", "-p", "p2", "--scopes", "sql,files.files", "--storage", "file")
    assert other.stderr.rstrip().endswith("Run: scopedauth login --profile p2 --scopes 'files.files sql'")
    bare = run("token", "-p", "bare", "--storage", "file")
    assert bare.returncode == 4 and bare.stderr.rstrip().endswith("Run: scopedauth login --profile bare")


def test_sandbox_command_serves_until_stopped() -> None:
    """``scopedauth sandbox`` prints the workspace URL, then ``sample URL``, and serves discovery until SIGTERM."""
    import requests

    with subprocess.Popen(
        [*CLI, "sandbox"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    ) as proc:
        try:
            assert proc.stdout is not None
            workspace, (name, app) = proc.stdout.readline().strip(), proc.stdout.readline().split()
            assert workspace.startswith("http://127.0.0.1:") and app.startswith("http://127.0.0.1:")
            assert name == "sample"
            with requests.Session() as http:
                http.trust_env = False
                meta = http.get(f"{workspace}/oidc/.well-known/oauth-authorization-server", timeout=10).json()
            assert meta["token_endpoint"] == f"{workspace}/oidc/v1/token"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()  # leave no process behind; Popen's with reaps it and closes the pipes
                raise
    assert proc.returncode == 0


@pytest.mark.parametrize(
    "args",
    [["--host", "https://adb-1.azuredatabricks.net"], ["--host", "https://adb-1.azuredatabricks.net", "-s", "sql"]],
    ids=["picked-scopes", "given-scopes"],
)
def test_logout_with_nothing_stored_says_so_and_succeeds(args: list[str]) -> None:
    """Like ``rm -f``: nothing to remove is not a failure, and no login command is suggested."""
    res = run("logout", *args, "--storage", "file")
    assert res.returncode == 0, res.stderr
    assert "Nothing stored for https://adb-1.azuredatabricks.net client=databricks-cli" in res.stderr
    assert res.stderr.rstrip().endswith("; nothing to do.")
    assert "scopedauth login" not in res.stderr and res.stdout == ""
