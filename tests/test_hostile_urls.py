"""Hostile URLs from servers, pastes, files and the environment (issue 9: findings 1, 4, 5, 8, 11).

Every test drives the public behaviour over real loopback HTTP (tests/localhttp.py stand-ins,
the sandbox) or the real command, and each one failed on fbd4221:

* 1: a discovery document's ``authorization_endpoint`` with PowerShell's other quote characters
  reached ``powershell.exe -Command``; WSL bridges took the URL inside command strings.
* 4: token, exchange, revocation and client-credential POSTs followed a 307 anywhere, body
  and all; discovery followed a redirect to any host.
* 5: ``*.localhost`` counted as loopback, so plain http was allowed to it.
* 8: ``https://[::1`` was a ValueError traceback; ``:0``, ``-`` and ``..`` were accepted.
* 11: ``--redirect-uri`` took loopback addresses the listener never serves.
* and ``scopedauth call 'https://[::1/x'`` ended in the same ValueError traceback as finding 8.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scopedauth.config import Target, canonical_host, resolve_target
from scopedauth.errors import ConfigError, TokenEndpointError
from scopedauth.oauth import browser
from scopedauth.oauth import client as oauth
from scopedauth.oauth.endpoints import Endpoints, discover
from scopedauth.tokens import Token
from tests.clitools import base_env, free_port, run
from tests.localhttp import LocalOAuth, LoopbackServer, QuietHandler

#: the audit's payload: U+2019 closes a PowerShell single-quoted string as "'" would
PAYLOAD = "https://login.example.com/authorize\u2019; Start-Process calc.exe; \u2019"
SHELL_BRIDGES = ("wslview", "powershell.exe", "pwsh.exe", "cmd.exe", "rundll32.exe", "explorer.exe")


@pytest.fixture
def local_oauth() -> Iterator[LocalOAuth]:
    server = LocalOAuth()
    yield server
    server.close()


# -- finding 1: server-controlled text never reaches a shell ---------------------------------------


@pytest.mark.parametrize("quote", ["\u2018", "\u2019", "\u201a", "\u201b", "'", '"', "`", "|", "&", " ", "\\"])
def test_discovery_refuses_an_authorization_endpoint_with_shell_quotes(local_oauth: LocalOAuth, quote: str) -> None:
    local_oauth.metadata(
        authorization_endpoint=f"https://login.example.com/authorize{quote}; Start-Process calc.exe; {quote}"
    )
    with pytest.raises(ConfigError, match="authorization_endpoint") as info:
        discover(resolve_target(host=local_oauth.url, scopes="sql"))
    assert "\x1b" not in str(info.value)


def _fake_bridges(bin_: Path, record: Path) -> None:
    """Every Windows bridge WSL might offer, as a program that records its argv and fails."""
    bin_.mkdir(exist_ok=True)
    for name in SHELL_BRIDGES:
        path = bin_ / name
        path.write_text(
            f'#!{sys.executable}\nimport json, sys\nopen("{record}", "a").write(json.dumps(sys.argv) + "\\n")\n'
            "sys.exit(1)\n"
        )
        path.chmod(0o755)


@pytest.mark.parametrize(
    "url",
    [
        "https://ws.example.com/oidc/v1/authorize?client_id=databricks-cli&state=a&x=it's",
        "https://ws.example.com/oidc/v1/authorize?a=1|calc&b=$(calc)&c=%27;calc;%27",
    ],
)
def test_wsl_launchers_take_the_url_as_one_argument_no_shell_parses(tmp_path: Path, url: str) -> None:
    _fake_bridges(tmp_path / "bin", tmp_path / "argv.jsonl")
    env = {"PATH": str(tmp_path / "bin"), "SCOPEDAUTH_WSL": "1"}
    found = browser.launchers(url, env=env)
    assert found, "no Windows bridge was offered at all"
    for argv in found:
        assert argv.count(url) == 1, argv  # the URL, verbatim, as its own argument
        others = [word for word in argv if word != url]
        assert not any(url in word or word.lower() in ("-command", "-c", "/c", "/k") for word in others), argv
        # wslview hands its argument to `powershell.exe -Command "Start \"URL\""` (wslu 4.x), so
        # "$(...)" would run there: the URL must not go through it either
        assert Path(argv[0]).name not in ("wslview", "powershell.exe", "pwsh.exe", "cmd.exe"), argv


def test_open_url_refuses_a_url_no_parser_passed(tmp_path: Path) -> None:
    record = tmp_path / "argv.jsonl"
    _fake_bridges(tmp_path / "bin", record)
    env = {"PATH": str(tmp_path / "bin"), "SCOPEDAUTH_WSL": "1"}
    with pytest.raises(ConfigError, match=r"^sign-in URL: contains white space or control characters"):
        browser.open_url(PAYLOAD, env=env)
    assert not record.exists()


def test_login_with_a_hostile_authorization_endpoint_launches_nothing(local_oauth: LocalOAuth, tmp_path: Path) -> None:
    record = tmp_path / "argv.jsonl"
    _fake_bridges(tmp_path / "bin", record)
    local_oauth.metadata(authorization_endpoint=PAYLOAD)
    env = base_env(SCOPEDAUTH_WSL="1", PATH=f"{tmp_path / 'bin'}:/usr/bin:/bin")
    res = run(
        "login", "--host", local_oauth.url, "--scopes", "sql", "--port", str(free_port()), "--timeout", "3", env=env
    )
    assert res.returncode == 2, res.stderr
    assert "authorization_endpoint" in res.stderr and "Traceback" not in res.stderr
    assert not record.exists(), record.read_text()


# -- finding 4: no POST to an OAuth endpoint follows a redirect -------------------------------------


class Thief(LoopbackServer):
    """Where a hostile token endpoint redirects to: records whatever arrives."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                outer.hits.append(f"POST {self.path} {self.read_body().decode(errors='replace')}")
                self.send_body(200, {"access_token": "stolen", "token_type": "Bearer", "expires_in": 3600})

            def do_GET(self) -> None:
                outer.hits.append(f"GET {self.path}")
                self.send_body(200, {"authorization_endpoint": "https://x/a", "token_endpoint": "https://x/t"})

        super().__init__(Handler)


class Redirector(LoopbackServer):
    """Answers every request with ``status`` and ``Location: <to><path>``."""

    def __init__(self, to: str, status: int = 307) -> None:
        class Handler(QuietHandler):
            def _redirect(self) -> None:
                self.read_body()
                self.send_response(status)
                self.send_header("Location", to + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                self._redirect()

            def do_POST(self) -> None:
                self._redirect()

        super().__init__(Handler)


@pytest.fixture
def thief() -> Iterator[Thief]:
    server = Thief()
    yield server
    server.close()


def _redirector(request: pytest.FixtureRequest, to: str, status: int = 307) -> Redirector:
    server = Redirector(to, status)
    request.addfinalizer(server.close)
    return server


def _token(target: Target, token_endpoint: str) -> Token:
    return Token(target=target, access_token="at-secret", refresh_token="rt-secret", token_endpoint=token_endpoint)


GRANTS: dict[str, Any] = {
    "refresh": lambda target, url: oauth.refresh(_token(target, url)),
    "code": lambda target, url: oauth.exchange_code(
        target,
        Endpoints(f"{url}/authorize", url),
        code="C",
        verifier="v" * 43,
        redirect_uri="http://localhost:8020",
    ),
    "client_credentials": lambda target, url: oauth.client_credentials(
        target, Endpoints(f"{url}/authorize", url), "sp-secret"
    ),
    "token_exchange": lambda target, url: oauth.token_exchange(
        target, Endpoints(f"{url}/authorize", url), "subject-jwt", "urn:ietf:params:oauth:token-type:jwt"
    ),
}


@pytest.mark.parametrize("status", [307, 308, 302])
@pytest.mark.parametrize("grant", sorted(GRANTS))
def test_token_posts_never_follow_a_redirect(
    request: pytest.FixtureRequest, thief: Thief, grant: str, status: int
) -> None:
    redirector = _redirector(request, thief.url + "/steal", status)
    target = Target(host=redirector.url, scopes=("offline_access", "sql"))
    with pytest.raises(TokenEndpointError, match="redirect") as info:
        GRANTS[grant](target, redirector.url + "/oidc/v1/token")
    assert thief.hits == []
    assert info.value.status == status
    assert not any(secret in str(info.value) for secret in ("at-secret", "rt-secret", "sp-secret", "subject-jwt"))


def test_revocation_never_follows_a_redirect(request: pytest.FixtureRequest, thief: Thief) -> None:
    redirector = _redirector(request, thief.url + "/steal")
    target = Target(host=redirector.url, scopes=("offline_access", "sql"))
    assert oauth.revoke(_token(target, redirector.url + "/t"), redirector.url + "/oidc/v1/revoke") is False
    assert thief.hits == []


def test_discovery_refuses_a_redirect_to_another_host(request: pytest.FixtureRequest, thief: Thief) -> None:
    redirector = _redirector(request, thief.url.replace("127.0.0.1", "localhost"), 302)
    with pytest.raises(ConfigError, match="redirect") as info:
        discover(resolve_target(host=redirector.url, scopes="sql"))
    assert "localhost" in str(info.value)
    assert thief.hits == []


def test_discovery_refuses_a_redirect_to_plain_http_on_the_same_host(request: pytest.FixtureRequest) -> None:
    port = free_port()
    redirector = _redirector(request, f"http://127.0.0.1:{port}", 301)
    with pytest.raises(ConfigError, match="redirect"):
        discover(resolve_target(host=redirector.url, scopes="sql"))


# -- finding 5: only literal localhost, 127/8 and ::1 are loopback ---------------------------------


@pytest.mark.parametrize(
    "host", ["http://evil.localhost", "http://app.localhost:8080", "http://LOCALHOST.localhost", "http://a.b.localhost"]
)
def test_plain_http_to_a_localhost_subdomain_is_refused(host: str) -> None:
    with pytest.raises(ConfigError, match="http"):
        resolve_target(host=host, scopes="sql")


def test_discovery_refuses_plain_http_endpoints_on_localhost_subdomains(local_oauth: LocalOAuth) -> None:
    local_oauth.metadata(token_endpoint="http://evil.localhost/oidc/v1/token")
    with pytest.raises(ConfigError, match="token_endpoint"):
        discover(resolve_target(host=local_oauth.url, scopes="sql"))


# -- finding 8: malformed hosts are exit 2 with the value named, never a traceback ------------------


BAD_HOSTS = [
    "https://[::1",
    "https://[::1]x",
    "https://[zz::1]",
    "https://host:0",
    "https://host:65536",
    "https://-",
    "https://..",
    "https://a..b.com",
    "https://-a.com",
    "https://a-.com",
    "https://.a.com",
    "https://127.1",
    "https://[::1%25eth0]",
]


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_malformed_host_is_a_config_error(host: str) -> None:
    with pytest.raises(ConfigError) as info:
        canonical_host(host)
    assert repr(host) in str(info.value) or host in str(info.value)


@pytest.mark.parametrize("where", ["--host", "DATABRICKS_HOST", "profile"])
def test_malformed_host_from_any_source_exits_2_naming_it(tmp_path: Path, where: str) -> None:
    host = "https://[::1"
    env = base_env()
    args = ["token"]
    if where == "--host":
        args += ["--host", host]
    elif where == "DATABRICKS_HOST":
        env["DATABRICKS_HOST"] = host
    else:
        cfg = tmp_path / "databrickscfg"
        cfg.write_text(f"[p]\nhost = {host}\n")
        env["DATABRICKS_CONFIG_FILE"] = str(cfg)
        args += ["--profile", "p"]
    res = run(*args, env=env)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "ValueError" not in res.stderr
    assert host in res.stderr
    assert where.removeprefix("--") in res.stderr


# -- finding 11: --redirect-uri only where the listener answers ---------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.2:{port}",
        "http://app.localhost:{port}/cb",
        "http://[::ffff:127.0.0.1]:{port}",
        "http://0.0.0.0:{port}",
        "http://localhost:{port}/cb#frag",
        "http://localhost:0/cb",
        "http://user@localhost:{port}/cb",
    ],
)
def test_redirect_uri_the_listener_cannot_serve_is_refused_up_front(local_oauth: LocalOAuth, uri: str) -> None:
    local_oauth.metadata()
    port = free_port()
    res = run(
        "login",
        *("--host", local_oauth.url, "--scopes", "sql", "--no-browser", "--timeout", "3"),
        *("--redirect-uri", uri.format(port=port)),
    )
    assert res.returncode == 2, res.stderr
    assert "--redirect-uri" in res.stderr
    assert "http://localhost:PORT" in res.stderr and "127.0.0.1" in res.stderr and "[::1]" in res.stderr


def test_the_redirect_uris_the_listener_serves_are_accepted() -> None:
    from scopedauth.grants.flow import _redirect_uri

    port = free_port()
    for uri in (f"http://localhost:{port}/cb", f"http://127.0.0.1:{port}", f"http://[::1]:{port}/x/y"):
        assert _redirect_uri(8020, uri) == (uri, port)


@pytest.mark.parametrize("url", ["https://[::1/api/x", "https://h.com:0/api", "https://-/api"])
def test_call_with_a_malformed_url_exits_2_naming_it(url: str) -> None:
    res = run("call", url)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and repr(url) in res.stderr
