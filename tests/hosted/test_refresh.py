"""Single-flight refresh: one refresh across replica processes, invalid_grant, a killed holder."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from scopedauth.hosted.keys import KEYS_ENV
from scopedauth.hosted.refresh import open_token
from scopedauth.sandbox import Sandbox

from ..conftest import free_port
from .conftest import STORES, Replica
from .replica import start, start_many, stop
from .webapp import Browser, age_session


def signed_in_and_aged(replica: Replica, sandbox: Sandbox, seconds_left: float = 10) -> Browser:
    """A browser whose session's access token is about to expire (and is dead at the server)."""
    browser = Browser()
    browser.sign_in(replica.url, sandbox)
    age_session(replica.store, replica.keys, replica.only_row(), seconds_left)
    if seconds_left < 40:
        sandbox.expire_access_tokens()
    return browser


def replica_env(key_spec: str) -> dict[str, str]:
    return {**os.environ, KEYS_ENV: key_spec, "NO_PROXY": "127.0.0.1,localhost"}


def test_an_aged_session_is_refreshed_once(replica: Replica, sandbox: Sandbox) -> None:
    browser = signed_in_and_aged(replica, sandbox)
    assert browser.get(replica.url + "/api/call").status_code == 200
    assert browser.get(replica.url + "/api/call").status_code == 200
    assert sandbox.stats.refreshes == 1
    row = replica.only_row()
    assert row.generation == 1 and row.lease_owner == ""


def test_invalid_grant_revokes_the_session(replica: Replica, sandbox: Sandbox) -> None:
    browser = signed_in_and_aged(replica, sandbox)
    token = open_token(replica.keys, replica.only_row())
    assert replica.auth.service.client.revoke(token)  # the grant dies at the workspace
    answer = browser.get(replica.url + "/api/call")
    assert answer.status_code == 401
    row = replica.only_row()
    assert row.revoked_at is not None and row.ciphertext == ""
    assert browser.get(replica.url + "/api/call").status_code == 401
    assert sandbox.stats.refresh_failures == 1  # it was tried once, not again


def test_a_failed_refresh_serves_the_valid_token_and_frees_the_lease(replica: Replica, sandbox: Sandbox) -> None:
    browser = signed_in_and_aged(replica, sandbox, seconds_left=120)  # refresh-ahead window, still valid
    sandbox.fail_next_token_requests(1, 503)
    sent = sandbox.stats.token_requests
    first = browser.get(replica.url + "/api/whoami").json()["token"]
    assert sandbox.stats.token_requests == sent + 1  # a refresh is never retried
    row = replica.only_row()
    assert (row.generation, row.lease_until) == (0, 0.0)
    second = browser.get(replica.url + "/api/whoami").json()["token"]
    assert first != second and sandbox.stats.refreshes == 1


@pytest.mark.parametrize("store_url", STORES, indirect=True)
def test_replica_processes_refresh_once(replica: Replica, sandbox: Sandbox, store_url: str, key_spec: str) -> None:
    """3 replica processes x 20 concurrent requests on one expiring session: one refresh, no reuse."""
    browser = signed_in_and_aged(replica, sandbox)
    port = replica.url.rsplit(":", 1)[1]
    ports = [free_port() for _ in range(3)]
    common = ["--host", sandbox.url, "--app-url", sandbox.app_url, "--store", store_url, "--redirect-port", port]
    procs = start_many(replica_env(key_spec), [[*common, "--port", str(p)] for p in ports])
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        cookie = {"scopedauth-session": browser.cookies["scopedauth-session"]}
        barrier = threading.Barrier(60)

        def hit(url: str) -> int:
            barrier.wait()
            return requests.get(url + "/api/call", cookies=cookie, timeout=60, proxies={"http": ""}).status_code

        with ThreadPoolExecutor(60) as pool:
            statuses = list(pool.map(hit, [url for url in urls for _ in range(20)]))
    finally:
        for proc in procs:
            stop(proc)
    assert statuses == [200] * 60
    assert sandbox.stats.refreshes == 1
    assert sandbox.stats.family_revocations == 0


def test_a_killed_lease_holder_is_taken_over(replica: Replica, sandbox: Sandbox, store_url: str, key_spec: str) -> None:
    browser = signed_in_and_aged(replica, sandbox)
    port = free_port()
    holder = start(
        replica_env(key_spec),
        "--host", sandbox.url, "--app-url", sandbox.app_url, "--store", store_url,
        "--port", str(port), "--lease", "2", "--hang-refresh", "--redirect-port", replica.url.rsplit(":", 1)[1],
    )  # fmt: skip
    try:
        cookie = {"scopedauth-session": browser.cookies["scopedauth-session"]}
        stuck = threading.Thread(target=_get_ignoring_errors, args=(f"http://127.0.0.1:{port}/", cookie), daemon=True)
        stuck.start()
        assert holder.stdout is not None and holder.stdout.readline().strip() == "leased"
        assert replica.only_row().lease_owner != ""
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        answer = browser.get(replica.url + "/api/call")  # waits for the lease to end, then takes over
        assert answer.status_code == 200, answer.text
        assert sandbox.stats.refreshes == 1 and sandbox.stats.family_revocations == 0
        assert replica.only_row().generation == 1
    finally:
        stop(holder)


def _get_ignoring_errors(url: str, cookies: dict[str, str]) -> None:
    """The request that hangs in the holder; it ends in a connection error when the holder dies."""
    with contextlib.suppress(requests.RequestException):
        requests.get(url, cookies=cookies, timeout=30)


def test_workspace_down_with_an_expired_token_is_503_then_recovers(replica: Replica, sandbox: Sandbox) -> None:
    browser = signed_in_and_aged(replica, sandbox)
    sandbox.fail_next_token_requests(1, 503)
    down = browser.get(replica.url + "/api/whoami")
    assert down.status_code == 503 and down.json()["error"] == "unavailable"
    page = browser.get(replica.url + "/")
    assert page.status_code == 200  # the outage was one request long: this one refreshed
    assert replica.only_row().lease_until == 0.0 and sandbox.stats.refreshes == 1
