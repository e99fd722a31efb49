"""Logging in where no browser runs: ``--no-browser``, ``--paste``, busy ports, custom redirect URIs.

Every test runs the real command in its own process against the sandbox and plays the person
over HTTP with tests/agents/user.py: read the authorize URL from stderr, sign in on the consent
page, then either load the redirect from the listener (``--no-browser``) or type the address
the browser was sent to into stdin (``--paste``).
"""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests

from scopedauth.sandbox import Sandbox, SandboxConfig
from tests.agents.user import consent, follow
from tests.clitools import Cli, authorize_url, base_env, free_port, listening_sockets, records, run, state_of


def login_args(sb: Sandbox, port: int, *extra: str) -> list[str]:
    return ["login", "--host", sb.url, "--scopes", "sql", "--port", str(port), "--timeout", "30", *extra]


def with_state(location: str, state: str) -> str:
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = state
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
def busy(listener_port: int) -> Iterator[socket.socket]:
    """Someone else listening on the redirect port."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", listener_port))
    holder.listen(1)
    yield holder
    holder.close()


def test_no_browser_prints_url_and_ssh_hint_then_the_user_signs_in_elsewhere(
    sandbox: Sandbox, listener_port: int, tmp_path: Path
) -> None:
    cli = Cli(*login_args(sandbox, listener_port, "--no-browser"), stdin=subprocess.DEVNULL)
    said = cli.wait_for("Waiting up to")
    assert f"ssh -L {listener_port}:localhost:{listener_port} <this-host>" in said
    assert listening_sockets(cli.proc.pid)  # the listener is up (and the probe used for --paste works)
    url = authorize_url(said)
    assert url.startswith(f"{sandbox.url}/oidc/v1/authorize?")
    # the person, on another machine with the port forwarded, signs in and is redirected back
    page = follow(consent(url))
    assert page.status_code == 200 and "Signed in" in page.text
    assert cli.finish() == 0, cli.stderr
    assert cli.stdout == ""
    (record,) = records(tmp_path).values()
    assert record["granted_scopes"] == ["offline_access", "sql"]
    assert record["access_token"] not in cli.stderr
    assert sandbox.stats.code_exchanges == 1


def test_paste_binds_no_port_and_stores_the_token(
    sandbox: Sandbox, listener_port: int, busy: socket.socket, tmp_path: Path
) -> None:
    cli = Cli(*login_args(sandbox, listener_port, "--paste"))
    said = cli.wait_for("Paste the address it went to: ")
    assert listening_sockets(cli.proc.pid) == []  # no listener at all (and the port is someone else's)
    assert f"http://localhost:{listener_port}/?code=" in said
    cli.send(consent(authorize_url(said)))
    assert cli.finish() == 0, cli.stderr
    assert cli.stdout == ""
    assert len(records(tmp_path)) == 1
    assert sandbox.stats.code_exchanges == 1


def test_a_mistyped_paste_may_be_tried_again(sandbox: Sandbox, listener_port: int, tmp_path: Path) -> None:
    cli = Cli(*login_args(sandbox, listener_port, "--paste"))
    url = authorize_url(cli.wait_for("Paste the address"))
    location = consent(url)
    cli.send(location[: len(location) // 3])  # half a URL: no code in it
    cli.wait_for("2 attempts left")
    cli.send(with_state(location, "stale-tab-state"))
    said = cli.wait_for("1 attempt left")
    assert "state does not match" in said
    cli.send("  " + location + "  ")
    assert cli.finish() == 0, cli.stderr
    assert len(records(tmp_path)) == 1


@pytest.mark.parametrize(
    ("answers", "expect"),
    [
        (["WRONG_STATE"] * 3, "state does not match this login"),
        (["DENIED"], "access_denied"),
        (
            ["garbage", "http://[::1/?code=c&state=RIGHT", "http//typo"],
            "not the address from the browser's address bar",
        ),
        (["", " ", ""], "nothing was pasted"),
        ([], "end of input"),
        (["http://localhost:1/?code=abc&state=RIGHT"] * 3, "does not start with this login's redirect URI"),
    ],
    ids=["wrong-state", "error-redirect", "garbage", "empty-lines", "eof", "other-redirect"],
)
def test_bad_pastes_fail_typed_and_store_nothing(
    sandbox: Sandbox, listener_port: int, tmp_path: Path, answers: list[str], expect: str
) -> None:
    cli = Cli(*login_args(sandbox, listener_port, "--paste"))
    url = authorize_url(cli.wait_for("Paste the address"))
    state = state_of(url)
    for i, answer in enumerate(answers):
        typed = answer.replace("RIGHT", state)
        if answer == "WRONG_STATE":
            typed = with_state(consent(url), ("y" if state.startswith("x") else "x") + state[1:])  # never equal
        elif answer == "DENIED":
            typed = f"http://localhost:{listener_port}/?error=access_denied&state={state}"
        cli.send(typed)
        if i < len(answers) - 1:
            cli.wait_for("Paste the address", count=i + 2)
    if len(answers) < 3 and "DENIED" not in answers:
        cli.close_stdin()
    assert cli.finish() == 5, cli.stderr
    assert expect in cli.stderr
    assert cli.stderr.count("Paste the address") == max(1, len(answers))  # a refusal is not asked again
    assert cli.stdout == ""
    assert records(tmp_path) == {}
    assert sandbox.stats.code_exchanges == 0


def test_no_browser_and_a_terminal_means_paste_by_itself(
    sandbox: Sandbox, listener_port: int, busy: socket.socket, tmp_path: Path
) -> None:
    main, child = pty.openpty()
    try:
        cli = Cli(*login_args(sandbox, listener_port), stdin=child, env=base_env())
        said = cli.wait_for("Paste the address")
        assert "No browser can be opened here, so this login uses copy and paste." in said
        os.write(main, (consent(authorize_url(said)) + "\n").encode())
        assert cli.finish() == 0, cli.stderr
    finally:
        os.close(main)
        os.close(child)
    assert len(records(tmp_path)) == 1


def test_busy_port_says_so_and_offers_port(sandbox: Sandbox, listener_port: int, busy: socket.socket) -> None:
    res = run(*login_args(sandbox, listener_port, "--no-browser"))
    assert res.returncode == 5
    assert f"port {listener_port} on 127.0.0.1 is busy" in res.stderr
    assert "--port N" in res.stderr and "http://localhost:N" in res.stderr
    assert sandbox.stats.authorize_requests == 0


@pytest.fixture
def app_sandbox() -> Iterator[tuple[Sandbox, int]]:
    """A custom OAuth app integration registered for http://localhost:<port>/callback."""
    port = free_port()
    config = SandboxConfig(redirect_uris={"my-app": [f"http://localhost:{port}/callback"]})
    with Sandbox(config) as sb:
        yield sb, port


def test_redirect_uri_with_a_path_is_served_there(app_sandbox: tuple[Sandbox, int], tmp_path: Path) -> None:
    sb, port = app_sandbox
    redirect = f"http://localhost:{port}/callback"
    cli = Cli(
        "login",
        "--host",
        sb.url,
        "--client-id",
        "my-app",
        "--scopes",
        "sql",
        "--redirect-uri",
        redirect,
        "--no-browser",
        stdin=subprocess.DEVNULL,
    )
    url = authorize_url(cli.wait_for("Waiting up to"))
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == [redirect]
    with requests.Session() as http:
        http.trust_env = False
        assert http.get(f"http://localhost:{port}/?code=x&state=y", timeout=10).status_code == 404
    page = follow(consent(url))
    assert page.status_code == 200 and "Signed in" in page.text
    assert cli.finish() == 0, cli.stderr
    (key,) = records(tmp_path)
    assert key == f"{sb.url}|my-app|offline_access sql"


def test_redirect_uri_with_paste_checks_the_path(app_sandbox: tuple[Sandbox, int], tmp_path: Path) -> None:
    sb, port = app_sandbox
    cli = Cli(
        "login",
        *("--host", sb.url, "--client-id", "my-app", "--scopes", "sql"),
        *("--redirect-uri", f"http://localhost:{port}/callback", "--paste"),
    )
    location = consent(authorize_url(cli.wait_for("Paste the address")))
    assert urlsplit(location).path == "/callback"
    cli.send(location.replace("/callback", "/elsewhere"))
    assert "does not start with this login's redirect URI" in cli.wait_for("2 attempts left")
    cli.send(location)
    assert cli.finish() == 0, cli.stderr
    assert len(records(tmp_path)) == 1


@pytest.mark.parametrize(
    "uri", ["https://localhost:8020/cb", "http://example.com:8020/cb", "http://localhost:99999/cb"]
)
def test_unusable_redirect_uri_is_a_config_error(sandbox: Sandbox, uri: str) -> None:
    res = run("login", "--host", sandbox.url, "--redirect-uri", uri, "--no-browser", "--timeout", "5")
    assert res.returncode == 2, res.stderr
    assert "--redirect-uri" in res.stderr
    assert sandbox.stats.authorize_requests == 0


def test_port_and_redirect_uri_must_agree(sandbox: Sandbox) -> None:
    res = run("login", "--host", sandbox.url, "--redirect-uri", "http://localhost:8031/cb", "--port", "8032")
    assert res.returncode == 2 and "disagree" in res.stderr


def test_a_pasted_fragment_never_plants_a_token(sandbox: Sandbox, listener_port: int, tmp_path: Path) -> None:
    """Finding 3: authlib reads a ``#access_token=…`` fragment as an implicit-grant answer.

    The token must come from the token endpoint's answer to our own code exchange, never from
    the pasted text, whatever its fragment says.
    """
    cli = Cli(*login_args(sandbox, listener_port, "--paste"))
    url = authorize_url(cli.wait_for("Paste the address"))
    state = state_of(url)
    cli.send(consent(url) + f"#access_token=INJECTED&token_type=bearer&expires_in=3600&state={state}")
    assert cli.finish() == 0, cli.stderr
    (record,) = records(tmp_path).values()
    assert record["access_token"] != "INJECTED" and "INJECTED" not in json.dumps(record)
    assert sandbox.stats.code_exchanges == 1
