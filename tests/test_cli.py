"""The ``scopedauth`` command as users run it: separate processes, real keyring, real browser script."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from scopedauth.sandbox import Sandbox
from tests.conftest import require_keyring

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
    record = json.loads(Keyring().get_password("scopedauth", key))
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
    assert Keyring().get_password("scopedauth", key) is None
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


def test_ctrl_c_while_waiting_leaves_nothing_and_frees_the_port(sandbox: Sandbox, listener_port: int) -> None:
    proc = subprocess.Popen(
        [*CLI, *login_args(sandbox, listener_port), "--no-browser", "--storage", "file"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    seen = ""
    while "Waiting" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    assert f"ssh -L {listener_port}:localhost:{listener_port}" in seen
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
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


def _free_port() -> int:
    from tests.conftest import free_port

    return free_port()
