"""``BearerAuth`` with real requests and ``credentials_strategy`` with the real databricks-sdk,
both against the sandbox over loopback HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

import scopedauth
from scopedauth.errors import ConfigError, LoginRequiredError
from scopedauth.grants import session
from scopedauth.sandbox import Sandbox, SandboxConfig
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from tests.users import user_login

SCOPES = ["sql", "iam.current-user:read"]
ME = "/api/2.0/preview/scim/v2/Me"


@pytest.fixture
def store() -> TokenStore:
    return TokenStore(MemoryBackend())


def _login(sb: Sandbox, port: int, store: TokenStore, **options: Any) -> scopedauth.Token:
    return user_login(sb, port, store, SCOPES, **options)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as sess:
        sess.trust_env = False
        yield sess


def test_bearer_auth_200_and_headers(
    sandbox: Sandbox, listener_port: int, store: TokenStore, http: requests.Session
) -> None:
    token = _login(sandbox, listener_port, store)
    auth = scopedauth.BearerAuth(host=sandbox.url, scopes=SCOPES, store=store)
    resp = http.get(f"{sandbox.app_url}/api/hello", auth=auth, timeout=10)
    assert resp.status_code == 200 and resp.request.headers["Authorization"] == f"Bearer {token.access_token}"
    assert token.access_token not in repr(auth)
    hdrs = scopedauth.headers(host=sandbox.url, scopes=SCOPES, store=store)
    assert hdrs == {"Authorization": f"Bearer {token.access_token}"}
    assert http.get(sandbox.url + ME, headers=hdrs, timeout=10).json()["userName"] == "demo@example.com"


def test_bearer_auth_refreshes_once_and_retries_once_after_revocation(
    sandbox: Sandbox, listener_port: int, store: TokenStore, http: requests.Session
) -> None:
    first = _login(sandbox, listener_port, store)
    sandbox.expire_access_tokens()  # still valid by its expiry, refused by the server
    resp = http.get(
        f"{sandbox.app_url}/api/hello", auth=scopedauth.BearerAuth(host=sandbox.url, store=store), timeout=10
    )
    assert resp.status_code == 200
    assert [r.status_code for r in resp.history] == [401]
    assert resp.history[0].request.headers["Authorization"] == f"Bearer {first.access_token}"
    assert resp.request.headers["Authorization"] != f"Bearer {first.access_token}"
    assert sandbox.stats.refreshes == 1
    # a POST with a body is replayed too
    posted = http.post(
        f"{sandbox.app_url}/api/hello", data=b"x", auth=scopedauth.BearerAuth(host=sandbox.url, store=store), timeout=10
    )
    assert posted.status_code == 200 and posted.json()["method"] == "POST"


def test_bearer_auth_does_not_loop_on_a_persistent_401(
    sandbox: Sandbox, listener_port: int, store: TokenStore, http: requests.Session
) -> None:
    config = SandboxConfig(redirect_uris={"databricks-cli": [f"http://localhost:{listener_port}"]})
    with Sandbox(config) as other:
        _login(other, listener_port, store)
        # a token of another workspace: every one of its tokens is refused by this app
        resp = http.get(
            f"{sandbox.app_url}/api/hello", auth=scopedauth.BearerAuth(host=other.url, store=store), timeout=10
        )
        assert resp.status_code == 401
        assert [r.status_code for r in resp.history] == [401]
        assert other.stats.refreshes == 1


def test_bearer_auth_without_refresh_token_says_how_to_log_in(
    sandbox: Sandbox, listener_port: int, store: TokenStore, http: requests.Session
) -> None:
    """The 401 the error replaces never reaches the caller, so BearerAuth must close it: else its
    connection stays open until garbage collection (a ResourceWarning in the caller's program)."""
    _login(sandbox, listener_port, store, refresh_token=False)
    sandbox.expire_access_tokens()
    refused: list[requests.Response] = []
    http.mount("http://", _Recording(refused))
    with pytest.raises(LoginRequiredError) as info:
        http.get(f"{sandbox.app_url}/api/hello", auth=scopedauth.BearerAuth(host=sandbox.url, store=store), timeout=10)
    assert "--no-refresh-token" in info.value.command
    assert [r.status_code for r in refused] == [401]
    assert refused[0].raw.closed, "the refused response still holds its connection"


class _Recording(HTTPAdapter):
    """requests' own adapter, keeping every response it hands back (hooks run after auth's)."""

    def __init__(self, into: list[requests.Response]) -> None:
        super().__init__()
        self.into = into

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        resp = super().send(request, *args, **kwargs)
        self.into.append(resp)
        return resp


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_no_retry_after_a_redirect_to_another_host(
    sandbox: Sandbox, listener_port: int, store: TokenStore, http: requests.Session
) -> None:
    """requests drops our header on a cross-host redirect; the 401 there is not ours to retry."""
    _login(sandbox, listener_port, store)
    app_port = sandbox.app_url.rsplit(":", 1)[1]
    handler = type("Redirect", (_Redirect,), {"target": f"http://localhost:{app_port}/api/hello"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/go"
        resp = http.get(url, auth=scopedauth.BearerAuth(host=sandbox.url, store=store), timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert resp.status_code == 401 and "Authorization" not in resp.request.headers
    assert [r.status_code for r in resp.history] == [302]
    assert sandbox.stats.refreshes == 0


def test_bearer_auth_refuses_plain_http_off_loopback(store: TokenStore, http: requests.Session) -> None:
    with pytest.raises(ConfigError, match="refusing to send a token"):
        http.get("http://example.com/api/x", auth=scopedauth.BearerAuth(host="https://example.com", store=store))


def test_credentials_strategy_with_the_real_sdk(sandbox: Sandbox, listener_port: int, store: TokenStore) -> None:
    from databricks.sdk import WorkspaceClient

    token = _login(sandbox, listener_port, store)
    w = WorkspaceClient(
        host=sandbox.url, credentials_strategy=scopedauth.credentials_strategy(scopes=SCOPES, store=store)
    )
    assert w.config.auth_type == "scopedauth"
    assert w.config.oauth_token().access_token == token.access_token
    assert w.current_user.me().user_name == "demo@example.com"
    # the client asks scopedauth on every request: once the stored token is stale it is
    # refreshed, and the old one (now refused by the server) is never sent again
    assert token.expiry is not None
    store.save(token.replace(expiry=token.obtained_at + timedelta(seconds=5)))
    session.forget_memory()
    sandbox.expire_access_tokens()
    assert w.current_user.me().user_name == "demo@example.com"
    assert sandbox.stats.refreshes == 1
    assert w.config.oauth_token().access_token != token.access_token


def test_credentials_strategy_with_nothing_stored_names_the_login(sandbox: Sandbox, store: TokenStore) -> None:
    from databricks.sdk import WorkspaceClient

    with pytest.raises(LoginRequiredError) as info:
        WorkspaceClient(
            host=sandbox.url, credentials_strategy=scopedauth.credentials_strategy(scopes=SCOPES, store=store)
        )
    assert info.value.command == f"scopedauth login --host {sandbox.url} --scopes 'iam.current-user:read sql'"


def test_bearer_auth_does_not_resend_a_consumed_streamed_body(store: TokenStore, http: requests.Session) -> None:
    from scopedauth.config import Target
    from scopedauth.tokens import Token, utcnow
    from tests.localhttp import LoopbackServer, QuietHandler

    bodies: list[bytes] = []

    class Refuses(QuietHandler):
        def do_POST(self) -> None:
            chunks = b""
            while True:  # requests streams a generator with chunked encoding
                size = int(self.rfile.readline().strip() or b"0", 16)
                chunks += self.rfile.read(size + 2)[:size]
                if size == 0:
                    break
            bodies.append(chunks)
            self.send_body(401, {"error": "expired"})

    target = Target("https://adb-1.azuredatabricks.net", scopes=("sql",))
    store.save(Token(target, access_token="stale", expiry=utcnow() + timedelta(hours=1)))
    server = LoopbackServer(Refuses)
    try:
        resp = http.post(
            server.url,
            data=(part for part in [b"a", b"b"]),
            timeout=10,
            auth=scopedauth.BearerAuth(target, store=store),
        )
    finally:
        server.close()
    assert resp.status_code == 401 and resp.history == []
    assert bodies == [b"ab"], "the retry would have sent an empty body"


def test_credentials_strategy_follows_the_sdk_profile(
    sandbox: Sandbox, listener_port: int, store: TokenStore, isolated_env: Any
) -> None:
    import os
    from pathlib import Path

    from databricks.sdk import WorkspaceClient

    Path(os.environ["DATABRICKS_CONFIG_FILE"]).write_text(f"[my-app]\nhost = {sandbox.url}\nscopes = sql\n")
    _login(sandbox, listener_port, store)  # iam.current-user:read + sql
    only_sql = user_login(sandbox, listener_port, store, "sql")
    w = WorkspaceClient(profile="my-app", credentials_strategy=scopedauth.credentials_strategy(store=store))
    assert w.config.oauth_token().access_token == only_sql.access_token
