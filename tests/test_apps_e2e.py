"""End to end: a developer's Flask app behind ``scopedauth sandbox --app``, called as the user.

Three processes, as an app developer runs them: the developer's app (``python -m tests.devapp``,
with the app's own service principal in its environment, as on Databricks), ``scopedauth
sandbox --app dev=URL --app-scopes sql --auto-approve``, and the scopedauth commands. The app
reads the forwarded headers and calls the sandbox workspace through the real databricks-sdk
``WorkspaceClient`` with ``scopedauth.forwarded(request.headers)``: as the signed-in user.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.clitools import CLI, base_env, free_port, run
from tests.test_apps import FETCH

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def workspace_port() -> int:
    return free_port()


@pytest.fixture
def dev_app(workspace_port: int) -> Iterator[str]:
    env = base_env(
        DATABRICKS_HOST=f"http://127.0.0.1:{workspace_port}",
        DATABRICKS_CLIENT_ID="sp-client",  # the app's own service principal, as Databricks sets it
        DATABRICKS_CLIENT_SECRET="sp-secret",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.devapp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # waits and closes the pipe


@pytest.fixture
def sandbox_cli(workspace_port: int, dev_app: str, listener_port: int) -> Iterator[dict[str, str]]:
    args = ["sandbox", "--port", str(workspace_port), "--app", f"dev={dev_app}", "--app-scopes", "sql"]
    args += ["--auto-approve", "--redirect-uri", f"http://localhost:{listener_port}"]
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=base_env())
    try:
        assert proc.stdout is not None
        urls = {"workspace": proc.stdout.readline().strip()}
        for _ in range(2):
            name, url = proc.stdout.readline().split()
            urls[name] = url
        yield urls
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_developers_app_calls_the_workspace_as_the_signed_in_user(
    sandbox_cli: dict[str, str], dev_app: str, listener_port: int
) -> None:
    ws = sandbox_cli["workspace"]
    login = run("login", "--host", ws, "--app", "dev", "--port", str(listener_port), "--browser-command", FETCH)
    assert login.returncode == 0, login.stderr
    assert "needs: iam.access-control:read iam.current-user:read sql" in login.stderr

    me = run("call", "--host", ws, "--app", "dev", "/api/me")
    assert me.returncode == 0, me.stderr
    assert json.loads(me.stdout) == {"user": "demo@example.com", "email": "demo@example.com"}

    echo = json.loads(run("call", "--host", ws, "--app", "dev", "/api/echo").stdout)["headers"]
    assert "authorization" not in echo and echo["x-forwarded-access-token"]
    assert echo["x-forwarded-preferred-username"] == "demo@example.com"

    # straight to the app, around the front: no forwarded token, and the app says why
    with requests.Session() as http:
        http.trust_env = False
        direct = http.get(f"{dev_app}/api/me", timeout=10)
    assert direct.status_code == 401 and "did not come through Databricks Apps" in direct.json()["error"]
