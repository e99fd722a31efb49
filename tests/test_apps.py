"""``--app NAME|URL``: an app's scopes read from the Apps API, cached with the grant; ``call`` on apps."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import scopedauth
from scopedauth.sandbox import AppSpec, Sandbox, SandboxConfig
from tests.clitools import base_env, records, run
from tests.devapp import DevApp
from tests.test_entry import HEAVY, HEAVY_STDLIB

#: CI's browser: open the authorize URL and follow the redirect (the sandbox auto-approves)
FETCH = shlex.join([sys.executable, "-c", "import sys, urllib.request; urllib.request.urlopen(sys.argv[1])"]) + " %s"
DEV_SCOPES = "iam.access-control:read iam.current-user:read offline_access sql"


@pytest.fixture
def dev() -> Iterator[DevApp]:
    with DevApp() as app:
        yield app


def apps_config(port: int, dev: DevApp, **extra: Any) -> SandboxConfig:
    return SandboxConfig(
        redirect_uris={"databricks-cli": [f"http://localhost:{port}"]},
        auto_approve=True,
        apps=[AppSpec("dev", dev.url, ["sql"]), AppSpec("plain", dev.url)],
        **extra,
    )


@pytest.fixture
def sb(listener_port: int, dev: DevApp) -> Iterator[Sandbox]:
    with Sandbox(apps_config(listener_port, dev)) as sandbox:
        yield sandbox


def login(sb: Sandbox, port: int, *args: str) -> Any:
    return run("login", "--host", sb.url, "--port", str(port), "--browser-command", FETCH, "--timeout", "30", *args)


def test_login_app_reads_its_scopes_after_an_all_apis_login(sb: Sandbox, listener_port: int, tmp_path: Path) -> None:
    done = login(sb, listener_port, "--app", "dev")
    assert done.returncode == 0, done.stderr
    assert "Finding app dev's scopes takes a token that may read the workspace's Apps API" in done.stderr
    assert "App dev (" in done.stderr and "needs: iam.access-control:read iam.current-user:read sql" in done.stderr
    stored = records(tmp_path)
    assert set(stored) == {f"{sb.url}|databricks-cli|all-apis offline_access", f"{sb.url}|databricks-cli|{DEV_SCOPES}"}
    assert sb.stats.code_exchanges == 2

    # token --app stays on the hot path: the answer is cached with the grant, no network at all
    before = sb.stats.snapshot()
    first = run("token", "--host", sb.url, "--app", "dev")
    assert first.returncode == 0 and first.stderr == "", first.stderr
    assert first.stdout.strip() == stored[f"{sb.url}|databricks-cli|{DEV_SCOPES}"]["access_token"]
    by_url = run("token", "--host", sb.url, "--app", sb.app_urls["dev"] + "/api/echo")
    assert by_url.stdout == first.stdout
    assert run("token", "--host", sb.url, "--app", "dev").stdout == first.stdout
    after = sb.stats.snapshot()
    assert after["apps_api_requests"] == before["apps_api_requests"] + 2  # only the look-up by URL: two pages
    assert after["token_requests"] == before["token_requests"]

    # and loads nothing heavy: the cached answer is two store reads
    probe = (
        "import sys\n"
        f"sys.argv = ['scopedauth', 'token', '--host', {sb.url!r}, '--app', 'dev']\n"
        "from scopedauth.cli import entry\n"
        "try:\n    entry.main()\nexcept SystemExit:\n    pass\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({(*HEAVY, *HEAVY_STDLIB)!r}))\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    hot = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=base_env())
    assert hot.stdout == first.stdout and hot.stderr.endswith("HEAVY="), hot.stderr

    # a second login for the app needs no all-apis login: the stored all-apis grant reads the Apps API
    again = login(sb, listener_port, "--app", "dev")
    assert again.returncode == 0 and "Finding app" not in again.stderr
    assert sb.stats.code_exchanges == 3


def test_without_a_grant_that_may_read_the_apps_api_the_login_is_named(sb: Sandbox) -> None:
    done = run("token", "--host", sb.url, "--app", "dev")
    assert done.returncode == 4
    assert "may read the Apps API" in done.stderr
    assert done.stderr.rstrip().endswith(f"scopedauth login --host {sb.url} --app dev")
    assert sb.stats.apps_api_requests == 0


def test_unknown_app_no_user_authorization_and_scopes_conflict(sb: Sandbox, listener_port: int) -> None:
    assert login(sb, listener_port, "--scopes", "all-apis").returncode == 0
    typo = run("token", "--host", sb.url, "--app", "dve")
    assert typo.returncode == 2
    assert "no app named 'dve'" in typo.stderr and "did you mean: dev" in typo.stderr
    elsewhere = run("token", "--host", sb.url, "--app", "http://127.0.0.1:9")
    assert elsewhere.returncode == 2 and "no app of" in elsewhere.stderr and sb.app_urls["dev"] in elsewhere.stderr
    plain = run("token", "--host", sb.url, "--app", "plain")
    assert plain.returncode == 0, plain.stderr
    assert "does not use user authorization" in plain.stderr and "CAN USE" in plain.stderr
    assert plain.stdout == run("token", "--host", sb.url, "--scopes", "all-apis").stdout
    both = run("token", "--host", sb.url, "--app", "dev", "--scopes", "sql")
    assert both.returncode == 2 and "drop --scopes" in both.stderr


def test_a_403_from_the_apps_api_is_explained(listener_port: int, dev: DevApp) -> None:
    with Sandbox(apps_config(listener_port, dev, withheld_scopes=["all-apis"])) as sb:
        done = login(sb, listener_port, "--app", "dev")
        assert done.returncode == 2
        assert "refused to show its Apps API" in done.stderr and "403" in done.stderr
        assert "Provided OAuth token does not have required scopes: all-apis" in done.stderr
        assert "Traceback" not in done.stderr


def test_python_api_app(sb: Sandbox, listener_port: int) -> None:
    store = scopedauth.get_token.__globals__["store_for"]("memory")
    reader = scopedauth.login(host=sb.url, store=store, port=listener_port, opener=_fetch, scopes="all-apis")
    assert "all-apis" in reader.granted_scopes
    token = scopedauth.login(host=sb.url, store=store, port=listener_port, opener=_fetch, app="dev")
    assert token.target.scopes == tuple(DEV_SCOPES.split())
    assert scopedauth.get_token(host=sb.url, app="dev", store=store).access_token == token.access_token
    answer = requests.get(
        f"{sb.app_urls['dev']}/api/echo", auth=scopedauth.BearerAuth(host=sb.url, app="dev", store=store), timeout=10
    )
    assert answer.status_code == 200
    assert answer.json()["headers"]["x-forwarded-access-token"] == token.access_token


def _fetch(url: str) -> bool:
    import threading
    import urllib.request

    threading.Thread(target=urllib.request.urlopen, args=(url,), daemon=True).start()
    return True


def call(*args: str) -> Any:
    return run("call", *args)


def test_call_app_relative_path_and_diagnoses(sb: Sandbox, listener_port: int) -> None:
    assert login(sb, listener_port, "--app", "dev").returncode == 0
    ok = call("--host", sb.url, "--app", "dev", "/api/echo?x=1")
    assert ok.returncode == 0, ok.stderr
    seen = json.loads(ok.stdout)
    assert seen["query"] == "x=1" and seen["headers"]["x-forwarded-email"] == "demo@example.com"

    # the owner adds a scope: the app's 403 makes call read the configuration again and say what to run
    sb.set_app_scopes("dev", ["sql", "files.files"])
    refused = call("--host", sb.url, "--app", "dev", "/api/echo")
    assert refused.returncode == 22
    assert "App dev is RUNNING" in refused.stderr
    assert "App dev requires scopes: files.files iam.access-control:read iam.current-user:read sql" in refused.stderr
    assert f"Missing: files.files. Fix: scopedauth login --host {sb.url} --app dev" in refused.stderr
    stale = run("token", "--host", sb.url, "--app", "dev")  # the cached answer was refreshed
    assert stale.returncode == 4 and "files.files" in stale.stderr

    sb.set_app_scopes("dev", ["sql"])
    sb.set_app_state("dev", "CRASHED")
    assert login(sb, listener_port, "--scopes", "sql iam.current-user:read").returncode == 0
    stopped = call("--host", sb.url, f"{sb.app_urls['dev']}/api/echo", "--scopes", "sql iam.current-user:read")
    assert stopped.returncode == 22
    assert "App dev is CRASHED, not RUNNING" in stopped.stderr and "databricks apps start dev" in stopped.stderr
    assert "Missing: iam.access-control:read" in stopped.stderr  # found by URL, without --app
    sb.set_app_state("dev", "RUNNING")
    outside = call("--host", sb.url, "--app", "dev", "/")
    assert outside.returncode == 22 and "/ is not under /api/" in outside.stderr


def test_env_exec_and_logout_take_app(sb: Sandbox, listener_port: int, tmp_path: Path) -> None:
    assert login(sb, listener_port, "--app", "dev").returncode == 0
    env = run("env", "--host", sb.url, "--app", "dev", "--shell", "json")
    assert env.returncode == 0, env.stderr
    token = json.loads(env.stdout)["DATABRICKS_TOKEN"]
    probe = "import os; print(os.environ['DATABRICKS_TOKEN'])"
    child = run("exec", "--host", sb.url, "--app", "dev", "--", sys.executable, "-c", probe)
    assert child.returncode == 0 and child.stdout.strip() == token
    out = run("logout", "--host", sb.url, "--app", "dev")
    assert out.returncode == 0 and "revoked and deleted" in out.stderr
    assert set(records(tmp_path)) == {f"{sb.url}|databricks-cli|all-apis offline_access"}


def test_app_option_is_in_the_fast_path_parser() -> None:
    from scopedauth.cli.entry import parse_token_args

    parsed = parse_token_args(["--app", "dev", "--host", "h"])
    assert parsed is not None and parsed[0]["app"] == "dev"
    assert base_env()  # the helpers the other tests use
