"""An outside reviewer's attacks on the hosted mode, each pinned once it was fixed.

Each test names the attack; docs/hosted.md's guarantees are what they check.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask

from scopedauth.errors import ConfigError, StorageError
from scopedauth.hosted.backends import open_store
from scopedauth.hosted.errors import NotSignedInError
from scopedauth.hosted.flaskapp import HostedAuth
from scopedauth.hosted.model import HostedStore, digest
from scopedauth.hosted.refresh import open_token
from scopedauth.sandbox import Sandbox

from ..conftest import free_port
from .conftest import Replica
from .webapp import CLIENT_SECRET, Browser, Served, age_session, create_app


@pytest.mark.parametrize("store_url", ["redis"], indirect=True)
def test_a_whole_session_hash_copied_under_another_key_serves_nobody(replica: Replica, sandbox: Sandbox) -> None:
    """Attack: with write access to Redis, copy Alice's whole session hash (its ``id_hash`` field,
    subject and ciphertext together) under Mallory's key. The ciphertext's associated data names
    the ``id_hash`` *field*, so it decrypted and Mallory's cookie was served Alice's token."""
    alice, mallory = Browser(), Browser()
    alice.sign_in(replica.url, sandbox)
    mallory.sign_in(replica.url, sandbox)
    alices_token = alice.get(replica.url + "/api/whoami").json()["token"]
    redis = replica.store.redis  # type: ignore[attr-defined]
    a_key = "scopedauth:s:" + digest(alice.cookies["scopedauth-session"])
    m_key = "scopedauth:s:" + digest(mallory.cookies["scopedauth-session"])
    redis.hset(m_key, mapping=redis.hgetall(a_key))
    answer = mallory.get(replica.url + "/api/whoami")
    assert answer.status_code == 401, answer.text
    assert alices_token not in answer.text


def test_another_app_on_the_same_store_cannot_end_this_apps_sessions(
    replica: Replica, sandbox: Sandbox, store: HostedStore, key_spec: str
) -> None:
    """Attack: a second app (another OAuth client) on the same workspace and store calls
    ``logout_all(user)`` or gets this app's cookie to its logout route. It ended this app's
    sessions (and sent this app's refresh token to the revocation endpoint as the other client)."""
    browser = Browser()
    browser.sign_in(replica.url, sandbox)
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/auth/callback"
    sandbox.add_web_client("other-app", CLIENT_SECRET, [redirect_uri])
    other = HostedAuth(
        host=sandbox.url,
        client_id="other-app",
        client_secret=CLIENT_SECRET,
        scopes="sql",
        redirect_uri=redirect_uri,
        store=store,
        keys=key_spec,
    )
    assert other.logout_all(sandbox.config.user) == 0
    other.service.logout(browser.cookies["scopedauth-session"])
    assert len(replica.rows()) == 1 and sandbox.stats.revocations == 0
    assert browser.get(replica.url + "/api/whoami").status_code == 200


def test_a_holder_that_lost_its_lease_does_not_revoke_the_session(replica: Replica, sandbox: Sandbox) -> None:
    """Attack (race): replica A's lease ends while its refresh POST is out; replica B takes the
    lease and refreshes. A's POST then comes back ``invalid_grant`` (its refresh token was spent
    by B). A revoked the session anyway, unconditionally: B's fresh tokens were thrown away and
    the visitor signed out (and B's new refresh token stayed live at the workspace, unrevoked)."""
    browser = Browser()
    browser.sign_in(replica.url, sandbox)
    dead = Browser()
    dead.sign_in(replica.url, sandbox)
    rows = {r.id_hash: r for r in replica.rows()}
    row = rows[digest(browser.cookies["scopedauth-session"])]
    dead_token = open_token(replica.keys, rows[digest(dead.cookies["scopedauth-session"])])
    assert replica.auth.service.client.revoke(dead_token)  # a refresh token the workspace refuses
    age_session(replica.store, replica.keys, row, 10)
    row = replica.store.get_session(row.id_hash)
    assert row is not None
    refresher = replica.auth.service.refresher
    now = time.time()
    assert replica.store.try_lease(row.id_hash, row.generation, "replica-a", now - 1, now)  # ...and it ran out
    replica.auth.service.token_for(browser.cookies["scopedauth-session"])  # replica B takes over
    assert sandbox.stats.refreshes == 1
    with pytest.raises(NotSignedInError):
        refresher._refresh(row, dead_token, "replica-a")  # A's late answer: invalid_grant
    fresh = replica.store.get_session(row.id_hash)
    assert fresh is not None and fresh.revoked_at is None and fresh.generation == row.generation + 1
    assert browser.get(replica.url + "/api/whoami").status_code == 200


@pytest.fixture
def dead_store() -> Iterator[HostedStore]:
    """A Redis store nobody listens on: every store call fails with StorageError."""
    store = open_store(f"redis://127.0.0.1:{free_port()}/0")
    yield store
    store.close()


def test_flask_auth_routes_answer_503_when_the_store_is_down(
    sandbox: Sandbox, dead_store: HostedStore, key_spec: str
) -> None:
    """The documented rule: store trouble during a request is a 503 with no details."""
    port = free_port()
    from .webapp import make_auth

    served = Served(create_app(make_auth(sandbox, dead_store, key_spec, port), sandbox.app_url), port)
    try:
        browser = Browser()
        browser.cookies.set("scopedauth-session", "x")
        for answer in (
            browser.get(served.url + "/auth/login", allow_redirects=False),
            browser.post(served.url + "/auth/logout", allow_redirects=False),
        ):
            assert answer.status_code == 503, answer.text
            assert "Redis" not in answer.text and "Error" not in answer.text
    finally:
        served.close()


def test_asgi_auth_routes_answer_503_when_the_store_is_down(
    sandbox: Sandbox, dead_store: HostedStore, key_spec: str
) -> None:
    """Attack: break the store (or the workspace's discovery) and hit /auth/login or /auth/logout
    on a FastAPI app. The middleware let the exception escape: a 500 and a traceback in the log
    instead of the documented 503."""
    from fastapi import FastAPI

    from .test_asgi import Uvicorn, make_asgi

    port = free_port()
    auth = make_asgi(sandbox, dead_store, key_spec, port)  # type: ignore[arg-type]
    app = FastAPI()
    auth.init_app(app)
    server = Uvicorn(app, port)
    try:
        browser = Browser()
        browser.cookies.set("scopedauth-session", "x")
        for answer in (
            browser.get(server.url + "/auth/login", allow_redirects=False),
            browser.post(server.url + "/auth/logout", allow_redirects=False),
        ):
            assert answer.status_code == 503, answer.text
            assert "Redis" not in answer.text and "Error" not in answer.text
    finally:
        server.close()


def test_views_never_get_the_refresh_token(replica: Replica, sandbox: Sandbox) -> None:
    """Attack: app code (a view, a log line, a template) reads ``auth.token().refresh_token``
    and spends or leaks it, bypassing single-flight. The view API hands out access tokens only."""
    app = Flask("peek")
    browser = Browser()
    browser.sign_in(replica.url, sandbox)
    with app.test_request_context(headers={"Cookie": f"scopedauth-session={browser.cookies['scopedauth-session']}"}):
        token = replica.auth.token()
        holds_refresh_token = token.refresh_token is not None  # not in pytest's message if it fails
        assert token.access_token and not holds_refresh_token


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:{port}/0?password=hunter2",
        "postgresql://portal@127.0.0.1:{port}/portal?sslmode=disable&password=hunter2",
    ],
)
def test_a_store_password_in_the_query_string_stays_out_of_errors_and_logs(url: str) -> None:
    """Attack: read the app's log after a store outage. Both drivers take the password as a
    query parameter too, and redact_url hid only ``user:password@``: every StorageError (which
    the web integrations log) and the store's repr carried the password."""
    store = open_store(url.format(port=free_port()))
    try:
        with pytest.raises(StorageError) as failed:
            store.get_session("0" * 64)
        assert "hunter2" not in str(failed.value) and "hunter2" not in repr(store)
        assert "127.0.0.1" in str(failed.value)  # still says which store
    finally:
        store.close()


@pytest.mark.parametrize("url", ["postgresql://u:hunter2@db:abc/x", "redis://:hunter2@db:abc/0"])
def test_a_malformed_store_url_is_a_config_error_without_its_password(url: str) -> None:
    """Bad input: a non-numeric port made redact_url itself raise ValueError (a traceback)."""
    with pytest.raises(ConfigError) as refused:
        open_store(url)
    assert "hunter2" not in str(refused.value)


CROSS_SITE = [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://other.example.com", "Sec-Fetch-Site": "same-site"},  # a sibling subdomain
    {"Origin": "null"},  # a sandboxed iframe, or an older browser without Sec-Fetch-*
]


def test_flask_logout_refuses_cross_site_posts(replica: Replica, sandbox: Sandbox) -> None:
    """Attack (logout CSRF): another site's page auto-submits a form to POST /auth/logout. SameSite=Lax
    keeps the cookie off that request, but the answer's Set-Cookie deleted it anyway (a top-level
    navigation may set cookies), and a sibling subdomain is same-site, so it even sent the cookie."""
    browser = Browser()
    browser.sign_in(replica.url, sandbox)
    for headers in CROSS_SITE:
        refused = browser.post(replica.url + "/auth/logout", headers=headers, allow_redirects=False)
        assert refused.status_code == 403, (headers, refused.status_code)
        assert "scopedauth-session" not in refused.headers.get("Set-Cookie", "")
    assert browser.get(replica.url + "/api/whoami").status_code == 200 and sandbox.stats.revocations == 0
    same = {"Origin": replica.url, "Sec-Fetch-Site": "same-origin"}
    assert browser.post(replica.url + "/auth/logout", headers=same, allow_redirects=False).status_code == 303
    assert browser.get(replica.url + "/api/whoami").status_code == 401


def test_asgi_logout_refuses_cross_site_posts(sandbox: Sandbox, store: HostedStore, key_spec: str) -> None:
    """The same attack on the ASGI integration."""
    from fastapi import FastAPI

    from .test_asgi import Uvicorn, make_asgi

    port = free_port()
    auth = make_asgi(sandbox, store, key_spec, port)  # type: ignore[arg-type]
    app = FastAPI()
    auth.init_app(app)
    server = Uvicorn(app, port)
    try:
        browser = Browser()
        browser.sign_in(server.url, sandbox)
        for headers in CROSS_SITE:
            refused = browser.post(server.url + "/auth/logout", headers=headers, allow_redirects=False)
            assert refused.status_code == 403, (headers, refused.status_code)
        assert len(list(store.iter_sessions())) == 1 and sandbox.stats.revocations == 0
        same = {"Origin": server.url}
        assert browser.post(server.url + "/auth/logout", headers=same, allow_redirects=False).status_code == 303
        assert list(store.iter_sessions()) == []
    finally:
        server.close()


def test_a_tampered_return_path_in_the_store_is_not_followed(replica: Replica, sandbox: Sandbox) -> None:
    """Attack: with write access to the store, rewrite a pending login's return path to another
    site. The callback redirected to whatever the row said (only begin_login checked it): an open
    redirect straight after a real sign-in. The verifier's ciphertext binds the browser, not this."""
    from sqlalchemy import update

    from scopedauth.hosted import schema

    browser = Browser()
    login = browser.get(replica.url + "/auth/login", params={"next": "/api/whoami"}, allow_redirects=False)
    engine = replica.store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(schema.attempts).values(return_to="https://evil.example/phish"))
    done = browser.get(sandbox.approve_url(login.headers["Location"]), allow_redirects=False)
    assert done.status_code == 302 and done.headers["Location"] == "/"


def test_production_cookie_attributes_in_every_branch(sandbox: Sandbox, store: HostedStore, key_spec: str) -> None:
    """Every Set-Cookie of login, callback and logout on an https app: ``__Host-``, Secure,
    HttpOnly, SameSite=Lax, Path=/, no Domain (held: the check pins it)."""
    from urllib.parse import urlsplit

    redirect_uri = "https://app.example.com/auth/callback"
    sandbox.add_web_client("prod-app", CLIENT_SECRET, [redirect_uri])
    auth = HostedAuth(
        host=sandbox.url,
        client_id="prod-app",
        client_secret=CLIENT_SECRET,
        scopes="sql",
        redirect_uri=redirect_uri,
        store=store,
        keys=key_spec,
    )
    app = Flask("prod")
    auth.init_app(app)
    client = app.test_client()
    base = "https://app.example.com"
    login = client.get("/auth/login", base_url=base)
    callback = urlsplit(sandbox.approve_url(login.headers["Location"]))
    signed_in = client.get(f"{callback.path}?{callback.query}", base_url=base)
    assert signed_in.status_code == 302
    logout = client.post("/auth/logout", base_url=base, headers={"Origin": base})
    assert logout.status_code == 303
    set_cookies = [c for r in (login, signed_in, logout) for c in r.headers.getlist("Set-Cookie")]
    assert len(set_cookies) == 4  # login; session and login cleared; session cleared
    for cookie in set_cookies:
        assert cookie.startswith("__Host-scopedauth-"), cookie.split("=")[0]
        for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
            assert attribute in cookie, (cookie.split("=")[0], attribute)
        assert "Domain" not in cookie
