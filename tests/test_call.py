"""``scopedauth call`` against the sandbox's app and workspace, and the diagnoses as a table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import scopedauth
from scopedauth.cli.handoff import EXIT_HTTP_ERROR
from scopedauth.config import Target
from scopedauth.handoff.diagnose import CallFacts, app_name, diagnose, fix_command, missing_scopes
from scopedauth.sandbox import Sandbox, SandboxConfig
from tests.users import user_login

CLI = [sys.executable, "-m", "scopedauth"]


def _login(sb: Sandbox, port: int, scopes: str = "sql") -> scopedauth.Token:
    return user_login(sb, port, "file", scopes)


def call(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, "call", *args, "--storage", "file"],
        capture_output=True,
        timeout=60,
        env={**os.environ},
        input=stdin if stdin is not None else b"",
    )


@pytest.fixture
def token(sandbox: Sandbox, listener_port: int) -> scopedauth.Token:
    return _login(sandbox, listener_port)


def test_app_route_200_body_on_stdout_status_on_stderr(sandbox: Sandbox, token: scopedauth.Token) -> None:
    done = call(f"{sandbox.app_url}/api/hello", "--host", sandbox.url)
    assert done.returncode == 0
    assert json.loads(done.stdout)["user"] == "demo@example.com"
    assert done.stderr.decode() == "HTTP 200\n"


def test_post_with_data_from_a_file_and_headers(sandbox: Sandbox, token: scopedauth.Token, tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"q": 1}')
    done = call(f"{sandbox.app_url}/api/hello", "--host", sandbox.url, "-d", f"@{body}", "-H", "X-Trace: 1")
    assert done.returncode == 0 and json.loads(done.stdout)["method"] == "POST"
    piped = call(f"{sandbox.app_url}/api/hello", "--host", sandbox.url, "-X", "post", "-d", "@-", stdin=b"x=1")
    assert json.loads(piped.stdout)["method"] == "POST"
    refused = call(f"{sandbox.app_url}/api/hello", "--host", sandbox.url, "-H", "Authorization: Bearer mine")
    assert refused.returncode == 2 and b"Authorization" in refused.stderr


def test_workspace_api_by_url_or_relative_path(sandbox: Sandbox, token: scopedauth.Token) -> None:
    by_url = call(f"{sandbox.url}/api/2.0/preview/scim/v2/Me")  # no --host: the URL's origin
    assert by_url.returncode == 0 and json.loads(by_url.stdout)["userName"] == "demo@example.com"
    relative = call("/api/2.0/preview/scim/v2/Me", "--host", sandbox.url)
    assert relative.returncode == 0 and json.loads(relative.stdout) == json.loads(by_url.stdout)


def test_a_workspace_url_names_its_workspace_over_a_default_profile(
    sandbox: Sandbox, token: scopedauth.Token, tmp_path: Path
) -> None:
    (tmp_path / "databrickscfg").write_text("[DEFAULT]\nhost = https://elsewhere.cloud.databricks.com\n")
    done = call(f"{sandbox.url}/api/2.0/preview/scim/v2/Me")
    assert done.returncode == 0, done.stderr
    (tmp_path / "databrickscfg").write_text(f"[DEFAULT]\nhost = {sandbox.url}\nscopes = sql\n")
    assert call(f"{sandbox.url}/api/2.0/preview/scim/v2/Me").returncode == 0


def test_403_names_the_missing_scope_and_the_login_that_fixes_it(sandbox: Sandbox, token: scopedauth.Token) -> None:
    done = call(f"{sandbox.app_url}/api/genie", "--host", sandbox.url)
    err = done.stderr.decode()
    assert done.returncode == EXIT_HTTP_ERROR == 22
    assert done.stdout == b"Provided OAuth token does not have required scopes: dashboards.genie"
    assert err.startswith("HTTP 403\n")
    assert "Granted scopes: sql\n" in err
    assert "Missing scopes (the server says): dashboards.genie" in err
    assert f"Fix: scopedauth login --host {sandbox.url} --scopes 'dashboards.genie sql'" in err
    assert token.access_token not in err


def test_404_says_whether_the_app_answered_and_what_an_api_route_is(sandbox: Sandbox, token: scopedauth.Token) -> None:
    done = call(f"{sandbox.app_url}/api/nope", "--host", sandbox.url)
    err = done.stderr.decode()
    assert done.returncode == 22 and "HTTP 404" in err
    assert f"404 Not Found at app URL {sandbox.app_url}." in err
    assert "came from the app itself, so it is deployed and running" in err
    assert "/api/nope is an /api/ route" in err
    outside = call(f"{sandbox.app_url}/hello", "--host", sandbox.url).stderr.decode()
    assert "/hello is not under /api/" in outside
    workspace = call(f"{sandbox.url}/api/2.0/nope").stderr.decode()
    assert f"{sandbox.url} has no API at /api/2.0/nope" in workspace


def test_401_after_revocation_is_refreshed_once_and_retried(sandbox: Sandbox, token: scopedauth.Token) -> None:
    sandbox.expire_access_tokens()
    done = call(f"{sandbox.app_url}/api/hello", "--host", sandbox.url)
    assert done.returncode == 0, done.stderr
    assert sandbox.stats.refreshes == 1


@pytest.fixture
def other_workspace(listener_port: int) -> Iterator[Sandbox]:
    config = SandboxConfig(redirect_uris={"databricks-cli": [f"http://localhost:{listener_port}"]})
    with Sandbox(config) as sb:
        yield sb


def test_persistent_401_is_retried_once_then_diagnosed(
    sandbox: Sandbox, other_workspace: Sandbox, listener_port: int
) -> None:
    """A token from another workspace: refreshing cannot help, and we do not loop."""
    other = _login(other_workspace, listener_port)
    done = call(f"{sandbox.app_url}/api/hello", "--host", other_workspace.url)
    err = done.stderr.decode()
    assert done.returncode == 22 and err.startswith("HTTP 401\n")
    assert other_workspace.stats.refreshes == 1  # one refresh, one retry, then the 401 stands
    assert "Server said: Invalid access token." in err
    assert "refreshed the token once and retried" in err
    assert f"must belong to the workspace the token is for ({other_workspace.url})" in err
    assert other.access_token not in err


def test_an_app_url_is_never_taken_for_the_workspace(sandbox: Sandbox) -> None:
    done = call("https://my-app-1234567890.aws.databricksapps.com/api/hello")
    assert done.returncode == 2 and b"no workspace" in done.stderr and done.stdout == b""


def test_nothing_stored_exits_4_before_any_request(sandbox: Sandbox) -> None:
    done = call(f"{sandbox.app_url}/api/hello", "--host", sandbox.url)
    assert done.returncode == 4 and b"scopedauth login" in done.stderr and done.stdout == b""


# -- diagnoses, as a table ----------------------------------------------------------------------------

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)
WS = Target("https://adb-1.azuredatabricks.net", scopes=("offline_access", "sql"))
APP = "https://my-app-1234567890.aws.databricksapps.com"


def facts(url: str, status: int, body: str = "", **changes: object) -> CallFacts:
    base: dict[str, object] = {
        "url": url,
        "status": status,
        "body": body,
        "target": WS,
        "granted_scopes": ("offline_access", "sql"),
        "expiry": NOW + timedelta(minutes=30),
        "retried": False,
        "now": NOW,
    }
    base.update(changes)
    return CallFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "expected", "absent"),
    [
        (
            facts(APP + "/api/x", 401, '{"message": "Invalid access token."}'),
            ["not expired (30 min left)", "Server said: Invalid access token.", "must belong to the workspace"],
            ["refreshed"],
        ),
        (facts(APP + "/api/x", 401, expiry=NOW - timedelta(seconds=5)), ["had expired (5 s ago)"], ["not expired"]),
        (
            facts(WS.host + "/api/2.0/x", 401, retried=True),
            [
                "refreshed the token once and retried",
                "scopedauth login --host https://adb-1.azuredatabricks.net --scopes sql",
            ],
            ["must belong"],
        ),
        (
            facts(
                APP + "/api/g", 403, "Provided OAuth token does not have required scopes: dashboards.genie, files.files"
            ),
            [
                "Granted scopes: sql",
                "Missing scopes (the server says): dashboards.genie files.files",
                "Fix: scopedauth login --host https://adb-1.azuredatabricks.net"
                " --scopes 'dashboards.genie files.files sql'",
            ],
            ["CAN USE"],
        ),
        (
            facts(APP + "/api/g", 403, '{"error_code": "PERMISSION_DENIED", "message": "User lacks CAN_USE"}'),
            ["CAN USE on the app (ask its owner: Apps > my-app > Permissions)"],
            ["Fix:"],
        ),
        (
            facts(WS.host + "/api/2.0/jobs/list", 403, "", granted_scopes=()),
            ["Granted scopes: (not stated by the server)", "all-apis"],
            ["CAN USE"],
        ),
        (
            facts(APP + "/api/x", 404, "<html><h1>App Not Available</h1></html>"),
            ["app URL " + APP + " (app my-app)", "not deployed or not running", "databricks apps get my-app"],
            ["came from the app"],
        ),
        (
            facts(APP + "/api/x", 404, '{"detail": "Not Found"}'),
            ["came from the app itself", "/api/x is an /api/ route"],
            ["not running"],
        ),
        (
            facts(APP + "/x", 404, "<html>?</html>"),
            ["Could not tell whether the app is deployed", "/x is not under /api/"],
            [],
        ),
        (
            facts(WS.host + "/api/2.0/nope", 404, '{"error_code": "ENDPOINT_NOT_FOUND"}'),
            ["has no API at /api/2.0/nope"],
            ["app"],
        ),
    ],
)
def test_diagnosis_table(case: CallFacts, expected: list[str], absent: list[str]) -> None:
    text = "\n".join(diagnose(case))
    for want in expected:
        assert want in text
    for unwanted in absent:
        assert unwanted not in text


@pytest.mark.parametrize("status", [200, 400, 409, 429, 500])
def test_no_diagnosis_for_other_statuses(status: int) -> None:
    assert diagnose(facts(APP + "/api/x", status, "Provided OAuth token does not have required scopes: x")) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Provided OAuth token does not have required scopes: sql", ("sql",)),
        ("Provided OAuth token does not have required scopes: sql, files.files", ("files.files", "sql")),
        (
            "Provided OAuth token does not have required scopes: dashboards.genie files.files.",
            ("dashboards.genie", "files.files"),
        ),
        (
            '{"message": "Provided OAuth token does not have required scopes: iam.current-user:read"}',
            ("iam.current-user:read",),
        ),
        ("Forbidden", ()),
    ],
)
def test_missing_scopes_parsing(body: str, expected: tuple[str, ...]) -> None:
    assert missing_scopes(body) == expected


def test_fix_command_keeps_host_account_client_and_refreshability() -> None:
    acct = Target("https://accounts.cloud.databricks.com", "my-app", ("sql",), account_id="a-1")
    assert fix_command(acct, ("sql",), ("dashboards.genie",)) == (
        "scopedauth login --host https://accounts.cloud.databricks.com --account-id a-1 --client-id my-app "
        "--scopes 'dashboards.genie sql' --no-refresh-token"
    )
    assert fix_command(WS, (), ("files.files",)) == (
        "scopedauth login --host https://adb-1.azuredatabricks.net --scopes 'files.files sql'"
    )


@pytest.mark.parametrize(
    ("url", "name"),
    [
        (APP + "/api/x", "my-app"),
        ("https://data-app-9-1234.azure.databricksapps.com/", "data-app-9"),
        ("https://adb-1.azuredatabricks.net/api/2.0/x", None),
        ("http://127.0.0.1:8000/api/hello", None),
    ],
)
def test_app_name(url: str, name: str | None) -> None:
    assert app_name(url) == name


def test_fix_command_rebuilds_the_same_kind_of_grant_and_keeps_the_profile() -> None:
    from scopedauth.tokens import CLIENT_CREDENTIALS, TOKEN_EXCHANGE, Grant

    sp = Target("https://h.cloud.databricks.com", client_id="sp-client", scopes=("sql",))
    assert fix_command(sp, ("sql",), ("dashboards.genie",), Grant(CLIENT_CREDENTIALS, client_secret_env="SPS")) == (
        "scopedauth login --host https://h.cloud.databricks.com --client-id sp-client "
        "--scopes 'dashboards.genie sql' --no-refresh-token --client-secret-env SPS"
    )
    fed = Target("https://h.cloud.databricks.com", scopes=("sql",))
    assert fix_command(fed, ("sql",), ("files.files",), Grant(TOKEN_EXCHANGE, subject_token_env="JWT")) == (
        "scopedauth exchange --host https://h.cloud.databricks.com --scopes 'files.files sql' "
        "--no-refresh-token --subject-token-env JWT"
    )


def test_body_is_byte_exact_in_a_pipe_and_ends_its_line_in_a_terminal(sandbox: Sandbox, listener_port: int) -> None:
    import pty
    import time

    _login(sandbox, listener_port)
    args = [*CLI, "call", f"{sandbox.app_url}/api/genie", "--host", sandbox.url, "--storage", "file"]
    piped = subprocess.run(args, capture_output=True, timeout=60)
    assert piped.stdout == b"Provided OAuth token does not have required scopes: dashboards.genie"
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - replaced by exec
        os.execvpe(sys.executable, args, dict(os.environ))
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    assert b"dashboards.genie\r\nHTTP 403" in seen, seen


@pytest.mark.parametrize(
    "body",
    [
        '{"message": "no\\n\\u001b[1ASigned in OK\\u202e"}',
        '{"error_description": "' + "x" * 500 + '"}',
        "plain\r\nSigned in OK\x1b]52;c;eA==\x07",
    ],
)
def test_what_the_server_said_is_one_sanitised_line(body: str) -> None:
    """Finding 7 for ``call``: the body's message is shown escaped, on one line, bounded."""
    (said,) = [line for line in diagnose(facts(APP + "/api/x", 401, body)) if line.startswith("Server said: ")]
    assert "\n" not in said and "\r" not in said and "\x1b" not in said and "\u202e" not in said
    assert len(said) <= len("Server said: ") + 300
