"""The sandbox fronting a developer's app the way Databricks Apps does, and its Apps API."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from scopedauth.sandbox import AppSpec, Sandbox, SandboxConfig
from scopedauth.sandbox.apps import PAGE_SIZE
from tests.clitools import CLI, base_env
from tests.devapp import DevApp
from tests.test_sandbox import authorize_url, pkce


@pytest.fixture
def dev() -> Iterator[DevApp]:
    with DevApp() as app:
        yield app


@pytest.fixture
def sb(dev: DevApp) -> Iterator[Sandbox]:
    apps = [AppSpec("dev", dev.url, ["sql"]), AppSpec("plain", dev.url), AppSpec("third", dev.url, ["files.files"])]
    with Sandbox(SandboxConfig(apps=apps)) as sandbox:
        yield sandbox


def get(url: str, token: str | None = None, **kw: object) -> requests.Response:
    headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with requests.Session() as http:
        http.trust_env = False
        return http.request(str(kw.pop("method", "GET")), url, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


# -- the Apps API ---------------------------------------------------------------------------------
def test_apps_api_get_shape(sb: Sandbox) -> None:
    token = sb.issue_access_token(["all-apis"])
    app = get(f"{sb.url}/api/2.0/apps/dev", token).json()
    assert app["name"] == "dev" and app["url"] == sb.app_urls["dev"]
    assert app["user_api_scopes"] == ["sql"]
    assert app["effective_user_api_scopes"] == ["iam.access-control:read", "iam.current-user:read", "sql"]
    assert app["app_status"]["state"] == "RUNNING" and app["compute_status"]["state"] == "ACTIVE"
    plain = get(f"{sb.url}/api/2.0/apps/plain", token).json()
    assert "user_api_scopes" not in plain and "effective_user_api_scopes" not in plain
    sample = get(f"{sb.url}/api/2.0/apps/sample", token).json()
    assert sample["url"] == sb.app_url and sample["user_api_scopes"] == ["dashboards.genie", "files.files", "sql"]
    missing = get(f"{sb.url}/api/2.0/apps/nope", token)
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    sb.set_app_state("dev", "CRASHED")
    assert get(f"{sb.url}/api/2.0/apps/dev", token).json()["app_status"]["state"] == "CRASHED"


def test_apps_api_pages_and_needs_all_apis(sb: Sandbox) -> None:
    token = sb.issue_access_token(["all-apis"])
    names, page = [], None
    while True:
        body = get(f"{sb.url}/api/2.0/apps", token, params={"page_token": page} if page else {}).json()
        assert len(body["apps"]) <= PAGE_SIZE
        names += [a["name"] for a in body["apps"]]
        page = body.get("next_page_token")
        if not page:
            break
    assert names == ["dev", "plain", "sample", "third"]
    assert get(f"{sb.url}/api/2.0/apps").status_code == 401
    refused = get(f"{sb.url}/api/2.0/apps/dev", sb.issue_access_token(["sql"]))
    assert refused.status_code == 403 and "all-apis" in refused.json()["message"]
    assert sb.stats.apps_api_requests >= 4


# -- the front --------------------------------------------------------------------------------------
def test_front_refuses_before_the_app(sb: Sandbox) -> None:
    front = sb.app_urls["dev"]
    sql = sb.issue_access_token(["sql", "iam.current-user:read", "iam.access-control:read"])
    assert get(f"{front}/api/echo").status_code == 401
    assert get(f"{front}/api/echo", "bogus").status_code == 401
    expired = sb.issue_access_token(["sql", "iam.current-user:read", "iam.access-control:read"], lifetime=-5)
    assert get(f"{front}/api/echo", expired).status_code == 401
    outside = get(f"{front}/", sql)
    assert outside.status_code == 401 and "only on /api/" in outside.json()["message"]
    short = get(f"{front}/api/echo", sb.issue_access_token(["sql"]))
    assert short.status_code == 403
    missing = "iam.access-control:read iam.current-user:read"
    assert short.text == f"Provided OAuth token does not have required scopes: {missing}"
    assert sb.stats.app_requests_forwarded == 0  # none of these reached the developer's app


def test_front_forwards_identity_and_never_the_callers_authorization(sb: Sandbox) -> None:
    scopes = ["sql", "iam.current-user:read", "iam.access-control:read"]
    token = sb.issue_access_token(scopes)
    forged = {"X-Forwarded-Access-Token": "forged", "X-Forwarded-Email": "evil@example.com", "X-Custom": "kept"}
    answer = get(f"{sb.app_urls['dev']}/api/echo", token, method="POST", params={"q": "1"}, data="body", headers=forged)
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert (seen["method"], seen["path"], seen["query"], seen["body"]) == ("POST", "/api/echo", "q=1", "body")
    headers = seen["headers"]
    assert "authorization" not in headers
    assert headers["x-forwarded-access-token"] == token
    assert headers["x-forwarded-email"] == headers["x-forwarded-preferred-username"] == "demo@example.com"
    assert headers["x-forwarded-user"].endswith("@1234567890")
    assert headers["x-real-ip"] == "127.0.0.1" and len(headers["x-request-id"]) == 36
    assert headers["x-custom"] == "kept"
    assert sb.stats.app_requests_forwarded == 1


def test_app_without_user_authorization_gets_no_token(sb: Sandbox) -> None:
    headers = get(f"{sb.app_urls['plain']}/api/echo", sb.issue_access_token(["all-apis"])).json()["headers"]
    assert "x-forwarded-access-token" not in headers and headers["x-forwarded-email"] == "demo@example.com"


def test_stopped_app_and_dead_upstream(sb: Sandbox, dev: DevApp) -> None:
    token = sb.issue_access_token(["files.files", "iam.current-user:read", "iam.access-control:read"])
    sb.set_app_state("third", "UNAVAILABLE")
    stopped = get(f"{sb.app_urls['third']}/api/echo", token)
    assert stopped.status_code == 404 and stopped.text == "App Not Available"
    sb.set_app_state("third", "RUNNING")
    dev.close()
    dead = get(f"{sb.app_urls['third']}/api/echo", token)
    assert dead.status_code == 502 and "not answering" in dead.json()["message"]


def test_auto_approve_skips_the_consent_page() -> None:
    with Sandbox(SandboxConfig(auto_approve=True)) as sb:
        _, challenge = pkce()
        answer = get(authorize_url(f"{sb.url}/oidc", challenge), allow_redirects=False)
        assert answer.status_code == 302
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query["state"] == ["st-123"] and query["code"]
    with Sandbox() as sb:
        _, challenge = pkce()
        assert get(authorize_url(f"{sb.url}/oidc", challenge)).status_code == 200  # the consent page


# -- the command ------------------------------------------------------------------------------------
def test_sandbox_command_fronts_apps(dev: DevApp) -> None:
    args = ["sandbox", "--app", f"dev={dev.url}", "--app-scopes", "sql files.files", "--app", f"other={dev.url}"]
    proc = subprocess.Popen(
        [*CLI, *args, "--auto-approve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=base_env()
    )
    try:
        assert proc.stdout is not None
        workspace = proc.stdout.readline().strip()
        lines = [proc.stdout.readline().split() for _ in range(3)]
        assert workspace.startswith("http://127.0.0.1:")
        assert [name for name, _ in lines] == ["sample", "dev", "other"]
        urls = dict(lines)
        refused = get(f"{urls['dev']}/api/echo", "bogus")
        assert refused.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "approved automatically" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app-scopes", "sql"], "--app-scopes must follow the --app"),
        (["--app", "Bad_Name=http://127.0.0.1:1"], "NAME=URL"),
        (["--app", "dev=ftp://x"], "http(s)://"),
    ],
)
def test_sandbox_command_bad_arguments(args: list[str], message: str) -> None:
    res = subprocess.run([*CLI, "sandbox", *args], capture_output=True, text=True, timeout=60, env=base_env())
    assert res.returncode == 2 and message in res.stderr and not res.stdout
