"""Corporate networks: a private CA, an HTTPS proxy that must carry remote hosts but never loopback,
and retries that never replay a used authorization code or a rotated refresh token.

The sandbox is served over TLS with a CA made in this module (cryptography). The proxy is a
real HTTP CONNECT proxy in a thread that tunnels every target to the sandbox's port, so a
made-up host name (``workspace.example.test``, valid in the certificate) reaches the sandbox
only through it.
"""

from __future__ import annotations

import selectors
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import scopedauth
import scopedauth.grants.manage
from scopedauth.config import resolve_target
from scopedauth.errors import ConfigError, NetworkError, TokenEndpointError
from scopedauth.oauth import transport
from scopedauth.oauth.endpoints import discover
from scopedauth.sandbox import Sandbox, SandboxConfig
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from tests.agents.user import consent, follow
from tests.clitools import AGENT, base_env, records, run
from tests.localhttp import LoopbackServer, QuietHandler
from tests.pki import Pki, make_pki

FAKE_HOST = "workspace.example.test"


# -- a private CA ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), FAKE_HOST)


@pytest.fixture
def tls_sandbox(pki: Pki, listener_port: int) -> Iterator[Sandbox]:
    config = SandboxConfig(
        ssl_context=pki.server_context(), redirect_uris={"databricks-cli": [f"http://localhost:{listener_port}"]}
    )
    with Sandbox(config) as sb:
        yield sb


# -- an HTTP CONNECT proxy ------------------------------------------------------------------------


class ConnectProxy:
    """Tunnels every CONNECT to 127.0.0.1:<upstream>; refuses (and counts) anything else."""

    def __init__(self, upstream_port: int) -> None:
        self.tunnels: list[str] = []
        self.refused: list[str] = []
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                method, target = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]
                if method != "CONNECT":
                    proxy.refused.append(f"{method} {target}")
                    self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                proxy.tunnels.append(target)
                with socket.create_connection(("127.0.0.1", upstream_port)) as upstream:
                    self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    _pipe(self.request, upstream)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pipe(a: socket.socket, b: socket.socket) -> None:
    with selectors.DefaultSelector() as sel:
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        while True:
            for key, _ in sel.select(timeout=30):
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)


@pytest.fixture
def proxy_env() -> dict[str, str]:
    """The environment without NO_PROXY (conftest sets one for loopback; here our code must do it)."""
    return {k: v for k, v in base_env().items() if k.lower() != "no_proxy"}


def sp_login(host: str, env: dict[str, str], *extra: str) -> Any:
    args = ("login", "--host", host, "--client-id", "sp-client", "--client-secret-env", "SP_SECRET", "-s", "sql")
    return run(*args, *extra, env={**env, "SP_SECRET": "sp-secret"})


def make_stale(tmp_path: Path, host: str) -> None:
    """Rewrite the file store's record for sp-client on ``host`` with 5 s of life left."""
    from datetime import timedelta

    from scopedauth.storage.backends import FileBackend

    store = TokenStore(FileBackend(tmp_path / "config" / "tokens.json"))
    target = resolve_target(host=host, client_id="sp-client", scopes="sql")
    token = store.load(target)
    assert token is not None
    store.save(token.replace(expiry=token.obtained_at + timedelta(seconds=5)))


# -- TLS with a private CA ------------------------------------------------------------------------


def test_tls_works_only_with_the_ca_bundle(tls_sandbox: Sandbox, pki: Pki, tmp_path: Path) -> None:
    host = tls_sandbox.url
    assert host.startswith("https://127.0.0.1:")
    plain = sp_login(host, base_env())
    assert plain.returncode == 7
    assert "TLS verification failed" in plain.stderr and "--ca-bundle" in plain.stderr
    wrong = sp_login(host, base_env(), "--ca-bundle", str(pki.other_ca))
    assert wrong.returncode == 7
    assert f"the CA bundle {pki.other_ca} (from --ca-bundle) does not vouch for this server" in wrong.stderr
    missing = sp_login(host, base_env(), "--ca-bundle", str(tmp_path / "nope.pem"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert records(tmp_path) == {}
    assert tls_sandbox.stats.token_requests == 0

    ok = sp_login(host, base_env(), "--ca-bundle", str(pki.ca))
    assert ok.returncode == 0, ok.stderr

    token_args = ("token", "--host", host, "--client-id", "sp-client", "-s", "sql")
    for env in (
        {"SCOPEDAUTH_CA_BUNDLE": str(pki.ca)},
        {"REQUESTS_CA_BUNDLE": str(pki.ca)},
    ):
        make_stale(tmp_path, host)
        assert run(*token_args, env=base_env(SP_SECRET="sp-secret")).returncode == 7
        res = run(*token_args, env=base_env(SP_SECRET="sp-secret", **env))
        assert res.returncode == 0, res.stderr
    make_stale(tmp_path, host)
    group = run("--ca-bundle", str(pki.ca), *token_args, env=base_env(SP_SECRET="sp-secret"))
    assert group.returncode == 0, group.stderr
    assert tls_sandbox.stats.client_credentials == 4


class MovedMetadata:
    """An https stand-in whose discovery document answers ``302 Location: <to>``.

    ``/moved`` serves the metadata; every GET is recorded, so a test sees where discovery went.
    """

    def __init__(self, pki: Pki, to: str) -> None:
        self.gets: list[str] = []
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                outer.gets.append(self.path)
                if self.path != "/moved":
                    self.send_response(302)
                    self.send_header("Location", to.format(port=outer.port))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                base = f"https://127.0.0.1:{outer.port}/oidc/v1"
                self.send_body(200, {"authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token"})

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = pki.server_context().wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("to", ["/moved", "https://127.0.0.1:{port}/moved"], ids=["relative", "absolute"])
def test_discovery_follows_a_redirect_to_https_on_the_same_host(
    pki: Pki, to: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCOPEDAUTH_CA_BUNDLE", str(pki.ca))
    server = MovedMetadata(pki, to)
    try:
        found = discover(resolve_target(host=server.url, scopes="sql"))
    finally:
        server.close()
    assert found.token_endpoint == f"{server.url}/oidc/v1/token"
    assert server.gets == ["/oidc/.well-known/oauth-authorization-server", "/moved"]


@pytest.mark.parametrize(
    "to", ["https://localhost:{port}/moved", "http://127.0.0.1:{port}/moved"], ids=["other-host", "plain-http"]
)
def test_discovery_refuses_a_redirect_off_https_or_off_the_host(
    pki: Pki, to: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCOPEDAUTH_CA_BUNDLE", str(pki.ca))
    server = MovedMetadata(pki, to)
    try:
        with pytest.raises(ConfigError, match=r"discovery follows a redirect only to https on 127\.0\.0\.1"):
            discover(resolve_target(host=server.url, scopes="sql"))
    finally:
        server.close()
    assert server.gets == ["/oidc/.well-known/oauth-authorization-server"]


def test_user_login_and_refresh_over_tls(tls_sandbox: Sandbox, pki: Pki, listener_port: int, tmp_path: Path) -> None:
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{AGENT}" "$@"\n')
    browser.chmod(0o755)
    env = base_env(BROWSER=f"{browser} %s", SCOPEDAUTH_TEST_CA=str(pki.ca), SCOPEDAUTH_CA_BUNDLE=str(pki.ca))
    args = ("login", "--host", tls_sandbox.url, "-s", "sql", "--port", str(listener_port), "--timeout", "20")
    res = run(*args, env=env)
    assert res.returncode == 0, res.stderr
    assert tls_sandbox.stats.code_exchanges == 1
    (record,) = records(tmp_path).values()
    assert record["token_endpoint"].startswith("https://127.0.0.1:")


# -- proxies --------------------------------------------------------------------------------------


def test_proxy_carries_a_remote_host(tls_sandbox: Sandbox, pki: Pki, proxy_env: dict[str, str], tmp_path: Path) -> None:
    tls_sandbox._store.url = f"https://{FAKE_HOST}"  # its metadata names the remote host, as a real workspace's does
    proxy = ConnectProxy(int(tls_sandbox.url.rsplit(":", 1)[1]))
    try:
        env = {**proxy_env, "HTTPS_PROXY": proxy.url, "SCOPEDAUTH_CA_BUNDLE": str(pki.ca)}
        res = sp_login(f"https://{FAKE_HOST}", env)
        assert res.returncode == 0, res.stderr
        assert tls_sandbox.stats.client_credentials == 1
        assert len(proxy.tunnels) >= 2  # discovery, then the token endpoint
        assert set(proxy.tunnels) == {f"{FAKE_HOST}:443"}
        (record,) = records(tmp_path).values()
        assert record["token_endpoint"] == f"https://{FAKE_HOST}/oidc/v1/token"

        tunnels = len(proxy.tunnels)
        bypass = sp_login(f"https://{FAKE_HOST}", {**env, "NO_PROXY": FAKE_HOST})
        assert bypass.returncode == 7  # NO_PROXY honoured: straight to a name no DNS knows
        assert len(proxy.tunnels) == tunnels
        assert proxy.refused == []
    finally:
        proxy.close()


def test_loopback_never_goes_through_the_proxy(
    sandbox: Sandbox, listener_port: int, browser_script: str, proxy_env: dict[str, str], tmp_path: Path
) -> None:
    proxy = ConnectProxy(1)  # would tunnel nowhere useful; it only counts
    try:
        env = {**proxy_env, "HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url, "ALL_PROXY": proxy.url}
        m2m = sp_login(sandbox.url, env)
        assert m2m.returncode == 0, m2m.stderr
        user = run(
            *("login", "--host", sandbox.url, "-s", "sql", "--port", str(listener_port), "--timeout", "20"),
            env={**env, "BROWSER": browser_script},
        )
        assert user.returncode == 0, user.stderr
        assert len(records(tmp_path)) == 2
        assert proxy.tunnels == [] and proxy.refused == []
    finally:
        proxy.close()


# -- retries --------------------------------------------------------------------------------------


class FlakyDiscovery(LoopbackServer):
    """Serves the sandbox's metadata, answering the first ``failures`` GETs with ``status``."""

    def __init__(self, sb: Sandbox, failures: int, status: int = 503) -> None:
        self.hits: list[str] = []
        flaky = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                flaky.hits.append(self.path)
                if len(flaky.hits) <= failures:
                    self.send_body(status, b"")
                    return
                endpoints = {
                    "authorization_endpoint": f"{sb.url}/oidc/v1/authorize",
                    "token_endpoint": f"{sb.url}/oidc/v1/token",
                }
                self.send_body(200, endpoints)

        super().__init__(Handler)


def test_discovery_is_retried_on_503(sandbox: Sandbox) -> None:
    flaky = FlakyDiscovery(sandbox, failures=1)
    try:
        found = discover(resolve_target(host=flaky.url, scopes="sql"))
        assert found.token_endpoint == f"{sandbox.url}/oidc/v1/token"
        assert flaky.hits == ["/oidc/.well-known/oauth-authorization-server"] * 2
    finally:
        flaky.close()


def test_discovery_that_keeps_failing_is_a_network_error(sandbox: Sandbox) -> None:
    flaky = FlakyDiscovery(sandbox, failures=99)
    try:
        with pytest.raises(NetworkError, match="HTTP 503"):
            discover(resolve_target(host=flaky.url, scopes="sql"))
        assert len(flaky.hits) == 4  # the first try and three retries, then no databricks-config guess
    finally:
        flaky.close()


def person(url: str) -> bool:
    """An opener: the user signs in from a thread, as a browser would."""
    threading.Thread(target=lambda: follow(consent(url)), daemon=True).start()
    return True


def user_login(sb: Sandbox, port: int, store: TokenStore) -> scopedauth.Token:
    return scopedauth.login(
        resolve_target(host=sb.url, scopes="sql"),
        store=store,
        port=port,
        opener=person,
        timeout=20,
        say=lambda _m: None,
    )


def test_client_credentials_are_retried_on_503(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SP_SECRET", "sp-secret")
    sandbox.fail_next_token_requests(1, status=503)
    token = scopedauth.login(
        store=TokenStore(MemoryBackend()),
        client_secret_env="SP_SECRET",
        host=sandbox.url,
        client_id="sp-client",
        scopes="sql",
    )
    assert token.access_token
    assert sandbox.stats.token_requests == 2 and sandbox.stats.client_credentials == 1


def test_code_exchange_is_not_retried_on_503_but_is_on_429(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    sandbox.fail_next_token_requests(1, status=503)
    with pytest.raises(TokenEndpointError) as info:
        user_login(sandbox, listener_port, store)
    assert info.value.status == 503
    assert sandbox.stats.token_requests == 1  # the code was sent once
    sandbox.fail_next_token_requests(1, status=429)
    assert user_login(sandbox, listener_port, store).access_token
    assert sandbox.stats.token_requests == 3 and sandbox.stats.code_exchanges == 1


def test_refresh_is_not_retried_on_503_but_is_on_429(sandbox: Sandbox, listener_port: int) -> None:
    from datetime import timedelta

    store = TokenStore(MemoryBackend())
    first = user_login(sandbox, listener_port, store)
    target = first.target
    store.save(first.replace(expiry=first.obtained_at + timedelta(seconds=10)))
    scopedauth.grants.session.forget_memory()
    before = sandbox.stats.token_requests
    sandbox.fail_next_token_requests(1, status=503)
    with pytest.raises(TokenEndpointError) as info:
        scopedauth.get_token(target, store=store)
    assert info.value.status == 503
    assert sandbox.stats.token_requests == before + 1  # the refresh token was sent once
    sandbox.fail_next_token_requests(1, status=429)
    fresh = scopedauth.get_token(target, store=store)
    assert fresh.refresh_token != first.refresh_token
    assert sandbox.stats.token_requests == before + 3
    assert sandbox.stats.refreshes == 1 and sandbox.stats.family_revocations == 0


def test_token_exchange_is_not_retried_on_503(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDP_JWT", sandbox.make_subject_token())
    sandbox.fail_next_token_requests(1, status=503)
    with pytest.raises(TokenEndpointError):
        scopedauth.grants.manage.exchange(
            host=sandbox.url, scopes="sql", subject_token_env="IDP_JWT", store=TokenStore(MemoryBackend())
        )
    assert sandbox.stats.token_requests == 1 and sandbox.stats.token_exchanges == 0


def test_retry_after_is_capped() -> None:
    from urllib3 import HTTPResponse

    retry = transport._retry(True)
    assert retry.get_retry_after(HTTPResponse(status=503, headers={"Retry-After": "3600"})) == transport.RETRY_AFTER_CAP
    assert retry.get_retry_after(HTTPResponse(status=503, headers={"Retry-After": "2"})) == 2
    assert retry.get_retry_after(HTTPResponse(status=503)) is None


def test_a_silent_server_times_out_once_without_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "READ_TIMEOUT", 0.5)
    accepted: list[socket.socket] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(0.1)

        def accept() -> None:
            for _ in range(30):
                try:
                    accepted.append(server.accept()[0])  # and never answer
                except OSError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        with pytest.raises(NetworkError, match="did not answer in time"):
            discover(resolve_target(host=f"http://127.0.0.1:{server.getsockname()[1]}", scopes="sql"))
        thread.join()
    assert len(accepted) == 1  # a request that reached the server is not sent again
    for conn in accepted:
        conn.close()
