"""``scopedauth exec``: the metadata service, the child's environment, signals, exit codes, and
the real databricks-sdk as the child, refreshing through the service while it runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

import scopedauth
from scopedauth.cli.handoff import run_exec
from scopedauth.config import Target
from scopedauth.errors import LoginRequiredError
from scopedauth.grants import session
from scopedauth.handoff.metadata_service import MetadataServer
from scopedauth.sandbox import Sandbox
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from scopedauth.tokens import utcnow
from tests.users import user_login

CLI = [sys.executable, "-m", "scopedauth"]
SCOPES = "sql iam.current-user:read"


def _login(sandbox: Sandbox, port: int, store: TokenStore | str) -> scopedauth.Token:
    return user_login(sandbox, port, store, SCOPES)


def _wait_for(path: Path, runner: threading.Thread | None = None, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"timed out waiting for {path.name}"
        if runner is not None and not runner.is_alive():
            assert path.exists(), f"the child ended before writing {path.name}"
        time.sleep(0.02)
    return path.read_text()


# -- the metadata service on its own ---------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[MetadataServer, scopedauth.Token, list[int]]]:
    token = scopedauth.Token(Target("https://adb-1.azuredatabricks.net"), "secret-token", expiry=utcnow())
    calls: list[int] = []

    def tokens() -> scopedauth.Token:
        calls.append(1)
        if len(calls) > 1:
            raise LoginRequiredError("the stored grant has expired", "scopedauth login --host https://x")
        return token.replace(expiry=utcnow() + timedelta(minutes=30, microseconds=1))

    with MetadataServer("adb-1.azuredatabricks.net/", tokens) as server:
        yield server, token, calls


def _ask(url: str, **headers: str) -> requests.Response:
    sent = {"X-Databricks-Metadata-Version": "1", "X-Databricks-Host": "https://adb-1.azuredatabricks.net"}
    sent.update(headers)
    return requests.get(url, headers={k: v for k, v in sent.items() if v}, timeout=10)


def test_metadata_service_answers_the_sdk_protocol(served: tuple[MetadataServer, scopedauth.Token, list[int]]) -> None:
    server, token, _ = served
    assert server.url.startswith("http://127.0.0.1:") and len(server.url.rsplit("/", 1)[1]) >= 40
    answer = _ask(server.url)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["access_token"] == token.access_token and body["token_type"] == "Bearer"
    assert isinstance(body["expires_on"], int)
    assert 30 * 60 < body["expires_on"] - time.time() <= 30 * 60 + 2  # rounded up, never down
    # a later failure is a 503 carrying the login command, not a crash
    failed = _ask(server.url)
    assert failed.status_code == 503 and "scopedauth login" in failed.json()["error_description"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"path": "/wrong"}, 404),
        ({"path": "/"}, 404),
        ({"X-Databricks-Metadata-Version": ""}, 400),
        ({"X-Databricks-Metadata-Version": "2"}, 400),
        ({"X-Databricks-Host": ""}, 403),
        ({"X-Databricks-Host": "https://evil.example.com"}, 403),
        ({"Host": "evil.example.com"}, 403),
        ({"method": "POST"}, 405),
    ],
)
def test_metadata_service_refuses_anything_else(
    served: tuple[MetadataServer, scopedauth.Token, list[int]], change: dict[str, str], status: int
) -> None:
    server, token, calls = served
    change = dict(change)  # the parametrize dict is shared by every run of this test: never mutate it
    url = server.url
    if "path" in change:
        url = url.rsplit("/", 1)[0] + change.pop("path")
    answer = requests.post(url, timeout=10) if change.pop("method", None) else _ask(url, **change)
    assert answer.status_code == status
    assert token.access_token not in answer.text
    assert calls == []  # refused before any token was asked for


@pytest.mark.parametrize("tail", ["/%C3%A9", "/\u00e9", "\u00e9", "/\U0001f600?x=1"])
def test_metadata_service_answers_404_to_a_non_ascii_path(
    served: tuple[MetadataServer, scopedauth.Token, list[int]], tail: str
) -> None:
    """Finding 13: comparing str with non-ASCII characters raised TypeError inside the handler."""
    server, _, calls = served
    status, body = server.answer(tail if tail.startswith("/") else "/" + tail, {"Host": "x"})
    assert (status, body) == (404, {"error": "not_found"})
    assert server.answer("/" + server.url.rsplit("/", 1)[1] + "\u00e9", {})[0] == 404
    with socket.create_connection(("127.0.0.1", int(server.url.split(":")[2].split("/")[0]))) as raw:
        raw.sendall(b"GET /\xc3\xa9 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 404")
    assert calls == []


# -- the real databricks-sdk as the child -----------------------------------------------------------

SDK_CHILD = """
import pathlib, sys, time
from databricks.sdk import WorkspaceClient

here = pathlib.Path(sys.argv[1])
def wait(name):
    deadline = time.monotonic() + 30
    while not (here / name).exists():
        if time.monotonic() > deadline:
            sys.exit("timed out waiting for " + name)
        time.sleep(0.02)

(here / "ready").write_text("")
wait("go1")
w = WorkspaceClient()  # from the environment alone
(here / "one").write_text(w.config.auth_type + " " + w.current_user.me().user_name)
wait("go2")
(here / "two").write_text(w.current_user.me().user_name)
"""


def test_sdk_child_gets_a_refreshed_token_through_the_metadata_service(
    sandbox: Sandbox, listener_port: int, tmp_path: Path
) -> None:
    """The same WorkspaceClient keeps working after its token is dead at the server.

    The SDK asks the metadata service again only when its token is 40 s from expiry, and
    get_token refreshes at that same moment, so the test lets the stored token (really valid for
    an hour) claim 42-43 s of life just before the child's first call (which takes milliseconds):
    2-3 s later both sides agree it is stale. The expiry is a whole second because that is what
    the store keeps. ``expire_access_tokens`` then proves the second call cannot use the old token.
    """
    store = TokenStore(MemoryBackend())
    first = _login(sandbox, listener_port, store)
    script = tmp_path / "child.py"
    script.write_text(SDK_CHILD)
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(
            run_exec([sys.executable, str(script), str(tmp_path)], store=store, host=sandbox.url, scopes=SCOPES)
        )
    )
    runner.start()
    try:
        _wait_for(tmp_path / "ready", runner)
        expiry = (utcnow() + timedelta(seconds=43)).replace(microsecond=0)
        store.save(first.replace(expiry=expiry, obtained_at=expiry - timedelta(seconds=80)))
        session.forget_memory()
        (tmp_path / "go1").write_text("")
        assert _wait_for(tmp_path / "one", runner) == "metadata-service demo@example.com"
        assert sandbox.stats.refreshes == 0
        sandbox.expire_access_tokens()  # the first token is now refused by the server
        stale_at = expiry - timedelta(seconds=40)  # for get_token and for the SDK alike
        time.sleep(max(0.0, (stale_at - utcnow()).total_seconds() + 0.3))
        (tmp_path / "go2").write_text("")
        assert _wait_for(tmp_path / "two", runner) == "demo@example.com"
    finally:
        (tmp_path / "go1").write_text("")
        (tmp_path / "go2").write_text("")
        runner.join(timeout=30)
    assert result == [0]
    assert sandbox.stats.refreshes == 1
    stored = store.load(Target(sandbox.url, scopes=(*SCOPES.split(), "offline_access")))
    assert stored is not None and stored.access_token != first.access_token


ENV_CHILD = """
import json, os, sys
from databricks.sdk import WorkspaceClient
w = WorkspaceClient()
names = [n for n in os.environ if n.startswith(("DATABRICKS_", "SCOPEDAUTH_TOKEN"))]
print(json.dumps({"env": {n: os.environ[n] for n in names}, "me": w.current_user.me().user_name,
                  "auth_type": w.config.auth_type}))
sys.exit(7)
"""


def _cli(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def test_exec_cli_hands_the_sdk_and_plain_tools_a_token(sandbox: Sandbox, listener_port: int, tmp_path: Path) -> None:
    token = _login(sandbox, listener_port, "file")
    # the parent resolves its own target from these too (SDK precedence), so name ours explicitly
    (tmp_path / "databrickscfg").write_text(f"[prod]\nhost = {sandbox.url}\n")
    conflicting = {
        "DATABRICKS_CLIENT_ID": "sp-client",
        "DATABRICKS_CLIENT_SECRET": "sp-secret",
        "DATABRICKS_CONFIG_PROFILE": "prod",
        "DATABRICKS_USERNAME": "u",
        "DATABRICKS_PASSWORD": "p",
        "DATABRICKS_TOKEN": "dapi-old",
        "DATABRICKS_WAREHOUSE_ID": "kept",
    }
    done = _cli(
        "exec",
        "--host",
        sandbox.url,
        "--client-id",
        "databricks-cli",
        "--storage",
        "file",
        "--",
        sys.executable,
        "-c",
        ENV_CHILD,
        env=conflicting,
    )
    assert done.returncode == 7, done.stderr  # the child's own exit code
    report = json.loads(done.stdout)
    env = report["env"]
    assert report["me"] == "demo@example.com" and report["auth_type"] == "metadata-service"
    assert env["DATABRICKS_TOKEN"] == token.access_token  # plain tools; the SDK ignored it
    assert env["DATABRICKS_AUTH_TYPE"] == "metadata-service"
    assert env["DATABRICKS_HOST"] == sandbox.url
    assert env["DATABRICKS_METADATA_SERVICE_URL"].startswith("http://127.0.0.1:")
    assert env["DATABRICKS_WAREHOUSE_ID"] == "kept"
    assert env["SCOPEDAUTH_TOKEN_EXPIRY"].endswith("Z")
    for name in (
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "DATABRICKS_CONFIG_PROFILE",
        "DATABRICKS_USERNAME",
    ):
        assert name not in env
    assert token.access_token not in done.stderr


def test_sdk_refuses_token_plus_metadata_service_without_auth_type(sandbox: Sandbox, listener_port: int) -> None:
    """Why exec pins DATABRICKS_AUTH_TYPE: without it the real SDK refuses the combination."""
    _login(sandbox, listener_port, "file")
    done = _cli(
        "exec",
        "--host",
        sandbox.url,
        "--storage",
        "file",
        "--",
        sys.executable,
        "-c",
        "import os; os.environ.pop('DATABRICKS_AUTH_TYPE')\n"
        "from databricks.sdk import WorkspaceClient; WorkspaceClient()",
    )
    assert done.returncode == 1
    assert "more than one authorization method configured: metadata-service and pat" in done.stderr


def test_nothing_stored_runs_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    done = _cli("exec", "--host", sandbox.url, "--storage", "file", "--", "touch", str(marker))
    assert done.returncode == 4 and "scopedauth login" in done.stderr and done.stdout == ""
    assert not marker.exists()


def test_missing_command_is_127(sandbox: Sandbox, listener_port: int) -> None:
    _login(sandbox, listener_port, "file")
    done = _cli("exec", "--host", sandbox.url, "--storage", "file", "--", "no-such-command-scopedauth")
    assert done.returncode == 127 and "command not found" in done.stderr
    # without "--" the first word that is not an option starts the command; its options stay its own
    assert _cli("exec", "--host", sandbox.url, "--storage", "file", "sh", "-c", "exit 3").returncode == 3


TRAP_CHILD = """
import signal, sys
def got(signum, _frame):
    print("child got", signum, flush=True)
    sys.exit(40 + signum)
signal.signal(signal.SIGINT, got)
signal.signal(signal.SIGTERM, got)
print("ready", flush=True)
signal.pause()
"""


@pytest.mark.parametrize(
    ("sig", "child", "expected"),
    [
        (signal.SIGINT, [sys.executable, "-c", TRAP_CHILD], 40 + signal.SIGINT),
        (signal.SIGTERM, [sys.executable, "-c", TRAP_CHILD], 40 + signal.SIGTERM),
        (signal.SIGTERM, ["sh", "-c", "echo ready; exec sleep 30"], 128 + signal.SIGTERM),
        (signal.SIGHUP, ["sh", "-c", "echo ready; exec sleep 30"], 128 + signal.SIGHUP),
    ],
)
def test_signals_reach_the_child_and_its_fate_is_the_exit_code(
    sandbox: Sandbox, listener_port: int, sig: int, child: list[str], expected: int
) -> None:
    _login(sandbox, listener_port, "file")
    with subprocess.Popen(
        [*CLI, "exec", "--host", sandbox.url, "--storage", "file", "--", *child],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # no controlling terminal: the signal can only come from us
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:  # a failure leaves no process behind; Popen's with reaps it and closes the pipes
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == expected, err
    if child[0] == sys.executable:
        assert out.strip() == f"child got {int(sig)}"


COUNT_INT = """
import signal, time
seen = []
signal.signal(signal.SIGINT, lambda *_: seen.append(1))
print("ready", flush=True)
end = time.monotonic() + 1.5
while time.monotonic() < end:
    time.sleep(0.05)
print(f"done {len(seen)}", flush=True)
"""


@pytest.mark.parametrize("how", ["keyboard", "kill"])
def test_sigint_reaches_the_child_exactly_once_in_a_terminal(sandbox: Sandbox, listener_port: int, how: str) -> None:
    """In a terminal, Ctrl-C already reaches the child (not passed on again); kill -INT does not (passed on)."""
    import pty

    _login(sandbox, listener_port, "file")
    pid, fd = pty.fork()  # the child leads a new session whose controlling terminal is the pty
    if pid == 0:  # pragma: no cover - replaced by exec
        os.execvpe(
            sys.executable,
            [*CLI, "exec", "--host", sandbox.url, "--storage", "file", "--", sys.executable, "-c", COUNT_INT],
            dict(os.environ),
        )
    output = b""
    deadline = time.monotonic() + 30
    try:
        while b"ready" not in output and time.monotonic() < deadline:
            output += os.read(fd, 1024)
        if how == "keyboard":
            os.write(fd, b"\x03")  # the terminal driver signals the whole foreground group
        else:
            os.kill(pid, signal.SIGINT)  # only scopedauth hears this one
        while b"done" not in output and time.monotonic() < deadline:
            try:
                output += os.read(fd, 1024)
            except OSError:
                break
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert b"done 1" in output, output
    assert os.waitstatus_to_exitcode(status) == 0
