"""HostedAuth on Flask against the sandbox over loopback HTTP: sign-in, cookies, state, logout."""

from __future__ import annotations

import time

import pytest
import requests
from flask import Flask, request

from scopedauth.errors import ConfigError
from scopedauth.hosted.flaskapp import HostedAuth
from scopedauth.hosted.model import HostedStore
from scopedauth.sandbox import Sandbox, SandboxConfig

from ..conftest import free_port
from .conftest import Replica
from .webapp import CLIENT_ID, CLIENT_SECRET, Browser, Served, create_app, make_auth


def test_sign_in_then_serve(replica: Replica, sandbox: Sandbox) -> None:
    browser = Browser()
    done = browser.sign_in(replica.url, sandbox, next_path="/api/whoami")
    assert done.status_code == 302 and done.headers["Location"] == "/api/whoami"
    assert browser.get(replica.url + "/api/whoami").json()["user"] == sandbox.config.user
    called = browser.get(replica.url + "/api/call")
    assert called.status_code == 200, called.text
    assert called.json()["body"]["scopes"] == ["offline_access", "sql"]
    assert browser.get(replica.url + "/sdk").json() == {"user": sandbox.config.user, "sdk_refresh_token": False}
    row = replica.only_row()
    assert (row.tenant, row.subject, row.client_id) == (sandbox.url, sandbox.config.user, CLIENT_ID)
    assert sandbox.stats.code_exchanges == 1


def test_dev_cookies_over_http_loopback(replica: Replica, sandbox: Sandbox) -> None:
    browser = Browser()
    login = browser.get(replica.url + "/auth/login", allow_redirects=False)
    set_login = login.headers["Set-Cookie"]
    assert set_login.startswith("scopedauth-login=") and "HttpOnly" in set_login and "SameSite=Lax" in set_login
    assert "Secure" not in set_login
    done = browser.get(sandbox.approve_url(login.headers["Location"]), allow_redirects=False)
    cookies = done.headers["Set-Cookie"]
    assert "scopedauth-session=" in cookies and "scopedauth-login=;" in cookies  # the login cookie is cleared


def test_production_cookies_are_host_prefixed(sandbox: Sandbox, store: HostedStore, key_spec: str) -> None:
    auth = HostedAuth(
        host=sandbox.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes="sql",
        redirect_uri="https://app.example.com/auth/callback",
        store=store,
        keys=key_spec,
    )
    app = Flask("prod")
    auth.init_app(app)
    answer = app.test_client().get("/auth/login", base_url="https://app.example.com")
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("__Host-scopedauth-login=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert "Domain" not in cookie


def test_login_rotates_the_session_cookie(replica: Replica, sandbox: Sandbox) -> None:
    browser = Browser()
    browser.sign_in(replica.url, sandbox)
    first = browser.cookies.get("scopedauth-session")
    browser.sign_in(replica.url, sandbox)
    second = browser.cookies.get("scopedauth-session")
    assert first and second and first != second
    assert len(replica.rows()) == 1  # the older session was ended, not kept
    stale = Browser()
    stale.cookies.set("scopedauth-session", first)
    assert stale.get(replica.url + "/api/whoami").status_code == 401


def test_unauthenticated_redirects_pages_and_401s_apis(replica: Replica) -> None:
    page = requests.get(replica.url + "/?x=1", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"] == "/auth/login?next=/%3Fx%3D1"
    api = requests.get(replica.url + "/api/whoami")
    assert api.status_code == 401 and api.json()["error"] == "unauthenticated"
    assert requests.get(replica.url + "/open").status_code == 200


@pytest.mark.parametrize("tamper", ["forged", "replayed", "foreign", "no-cookie", "denied"])
def test_bad_callbacks_get_400_and_write_nothing(replica: Replica, sandbox: Sandbox, tamper: str) -> None:
    browser = Browser()
    login = browser.get(replica.url + "/auth/login", allow_redirects=False)
    authorize = login.headers["Location"]
    if tamper == "denied":
        answer = browser.get(sandbox.deny_url(authorize), allow_redirects=False)
        assert answer.status_code == 403
        assert replica.rows() == []
        return
    callback = sandbox.approve_url(authorize)
    if tamper == "forged":
        callback = callback.replace("state=", "state=x")
    elif tamper == "replayed":
        assert browser.get(callback, allow_redirects=False).status_code == 302
        browser.cookies.clear()
        browser.get(replica.url + "/auth/login", allow_redirects=False)  # a new login in progress
        assert len(replica.rows()) == 1
    elif tamper == "foreign":  # another browser, with its own login in progress, gets this callback
        browser = Browser()
        browser.get(replica.url + "/auth/login", allow_redirects=False)
    elif tamper == "no-cookie":
        browser.cookies.clear()
    rows_before = len(replica.rows())
    answer = browser.get(callback, allow_redirects=False)
    assert answer.status_code == 400, answer.text
    assert "scopedauth-session" not in answer.headers.get("Set-Cookie", "")
    assert len(replica.rows()) == rows_before


def test_logout_revokes_deletes_and_is_seen_by_every_replica(
    replica: Replica, sandbox: Sandbox, store: HostedStore, key_spec: str
) -> None:
    port = free_port()
    other = Served(create_app(make_auth(sandbox, store, key_spec, port), sandbox.app_url), port)
    try:
        browser = Browser()
        browser.sign_in(replica.url, sandbox)
        assert browser.get(other.url + "/api/whoami").status_code == 200  # replica 2 serves replica 1's login
        assert browser.post(replica.url + "/auth/logout", allow_redirects=False).status_code == 303
        assert sandbox.stats.revocations == 1
        assert replica.rows() == []
        assert browser.get(other.url + "/api/whoami").status_code == 401
    finally:
        other.close()


def test_logout_all(replica: Replica, sandbox: Sandbox) -> None:
    browsers = [Browser(), Browser()]
    for b in browsers:
        b.sign_in(replica.url, sandbox)
    assert len(replica.rows()) == 2
    assert replica.auth.logout_all(sandbox.config.user) == 2
    assert replica.rows() == []
    assert sandbox.stats.revocations == 2
    for b in browsers:
        assert b.get(replica.url + "/api/whoami").status_code == 401


def test_two_browsers_two_tokens(replica: Replica, sandbox: Sandbox) -> None:
    a, b = Browser(), Browser()
    a.sign_in(replica.url, sandbox)
    b.sign_in(replica.url, sandbox)
    assert a.get(replica.url + "/api/whoami").json()["token"] != b.get(replica.url + "/api/whoami").json()["token"]


def test_tenants_are_isolated(replica: Replica, sandbox: Sandbox, store: HostedStore, key_spec: str) -> None:
    """A session of workspace A is no session at all for the app of workspace B on the same store."""
    with Sandbox() as other_ws:
        port = free_port()
        other = Served(create_app(make_auth(other_ws, store, key_spec, port), other_ws.app_url), port)
        try:
            browser = Browser()
            browser.sign_in(replica.url, sandbox)
            assert browser.get(other.url + "/api/whoami").status_code == 401
            assert other_ws.stats.token_requests == 0
        finally:
            other.close()


@pytest.mark.parametrize(
    ("redirect_uri", "says"),
    [("http://app.example.com/cb", "must be https"), ("ftp://x/cb", "must be https")],
)
def test_bad_configuration_fails_at_start(sandbox: Sandbox, key_spec: str, redirect_uri: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        HostedAuth(
            host=sandbox.url, client_id="c", client_secret="s", scopes="sql", redirect_uri=redirect_uri, keys=key_spec
        )
    with pytest.raises(ConfigError, match="SCOPEDAUTH_HOSTED_KEYS"):
        HostedAuth(host=sandbox.url, client_id="c", client_secret="s", scopes="sql", redirect_uri="https://a/cb")


def test_sessions_end_at_their_absolute_lifetime(sandbox: Sandbox, store: HostedStore, key_spec: str) -> None:
    port = free_port()
    auth = make_auth(sandbox, store, key_spec, port, session_lifetime=1.0)
    served = Served(create_app(auth, sandbox.app_url), port)
    try:
        browser = Browser()
        browser.sign_in(served.url, sandbox)
        time.sleep(1.1)
        assert browser.get(served.url + "/api/whoami").status_code == 401
    finally:
        served.close()


def test_logout_without_a_revocation_endpoint_still_signs_out(store: HostedStore, key_spec: str) -> None:
    with Sandbox(SandboxConfig(advertise_revocation=False)) as quiet:
        port = free_port()
        served = Served(create_app(make_auth(quiet, store, key_spec, port), quiet.app_url), port)
        try:
            browser = Browser()
            browser.sign_in(served.url, quiet)
            assert browser.post(served.url + "/auth/logout", allow_redirects=False).status_code == 303
            assert list(store.iter_sessions()) == [] and quiet.stats.revocations == 0
            assert browser.get(served.url + "/api/whoami").status_code == 401
        finally:
            served.close()


def test_sign_in_purges_ended_sessions(replica: Replica, sandbox: Sandbox) -> None:
    first = Browser()
    first.sign_in(replica.url, sandbox)
    replica.store.revoke_session(replica.only_row().id_hash, time.time())
    replica.auth.service._purged_at = 0.0  # as if the last purge was long ago
    Browser().sign_in(replica.url, sandbox)
    assert [r.revoked_at for r in replica.rows()] == [None]


def test_a_before_request_guard_protects_a_whole_app(sandbox: Sandbox, store: HostedStore, key_spec: str) -> None:
    """What docs/hosted.md tells Dash users to do."""
    port = free_port()
    auth = make_auth(sandbox, store, key_spec, port)
    app = Flask("guarded")
    auth.init_app(app)

    @app.before_request
    def sign_in_first() -> None:
        if not request.path.startswith("/auth/"):
            auth.session()

    @app.get("/dashboard")
    def dashboard() -> str:
        return f"hello {auth.user}"

    served = Served(app, port)
    try:
        browser = Browser()
        refused = browser.get(served.url + "/dashboard", allow_redirects=False)
        assert refused.status_code == 302 and refused.headers["Location"].startswith("/auth/login")
        browser.sign_in(served.url, sandbox, next_path="/dashboard")
        assert browser.get(served.url + "/dashboard").text == f"hello {sandbox.config.user}"
    finally:
        served.close()
