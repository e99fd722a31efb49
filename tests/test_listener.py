"""The loopback listener over real sockets: what ends a login, what never does."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from scopedauth.errors import AuthorizationDeniedError, CallbackTimeoutError, ListenerError
from scopedauth.oauth.listener import Listener

STATE = "s" * 43
NO_PROXY = {"http": "", "https": ""}


def get(url: str, **kw: object) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.get(url, timeout=10, **kw)  # type: ignore[arg-type]


@pytest.fixture
def listener(listener_port: int):
    lst = Listener(redirect_uri=f"http://localhost:{listener_port}", state=STATE, port=listener_port)
    yield lst
    lst.close()


def base(lst: Listener) -> str:
    return f"http://127.0.0.1:{lst.port}"


def nothing_arrived(lst: Listener) -> bool:
    with pytest.raises(CallbackTimeoutError):
        lst.wait(0.2)
    return True


def test_binds_loopback_only(listener: Listener) -> None:
    addresses = {s.getsockname()[0] for s in listener.sockets}
    assert "127.0.0.1" in addresses
    assert addresses <= {"127.0.0.1", "::1"}
    for sock in listener.sockets:
        assert sock.getsockname()[1] == listener.port


def test_busy_port_raises_listener_error_naming_the_port(listener_port: int) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", listener_port))
    holder.listen(1)
    try:
        with pytest.raises(ListenerError) as info:
            Listener(redirect_uri=f"http://localhost:{listener_port}", state=STATE, port=listener_port)
        assert str(listener_port) in str(info.value)
        assert "--port" in str(info.value)
    finally:
        holder.close()


def test_port_is_released_after_close(listener_port: int) -> None:
    for _ in range(2):  # a second login on the same port right after the first
        lst = Listener(redirect_uri=f"http://localhost:{listener_port}", state=STATE, port=listener_port)
        get(f"http://127.0.0.1:{listener_port}/favicon.ico")
        lst.close()
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    probe.bind(("127.0.0.1", listener_port))
    probe.close()


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/favicon.ico", "GET", 404),
        ("/other?code=c&state=" + STATE, "GET", 404),
        ("/?code=c&state=" + STATE, "POST", 405),
        ("/", "GET", 400),
        ("/?code=c&state=wrong", "GET", 400),
        ("/?code=c", "GET", 400),
        ("/?error=access_denied&state=wrong", "GET", 400),
        ("/?code=a&code=b&state=" + STATE, "GET", 400),
        ("/?code=c&state=" + STATE + "&pad=" + "x" * 9000, "GET", 414),
    ],
)
def test_requests_that_do_not_end_the_login(listener: Listener, path: str, method: str, status: int) -> None:
    with requests.Session() as http:
        http.trust_env = False
        resp = http.request(method, base(listener) + path, timeout=10)
    assert resp.status_code == status
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert nothing_arrived(listener)


def test_foreign_host_header_is_refused(listener: Listener) -> None:
    resp = get(base(listener) + "/?code=c&state=" + STATE, headers={"Host": f"evil.example:{listener.port}"})
    assert resp.status_code == 421
    assert nothing_arrived(listener)


def test_valid_callback_is_handed_over_and_page_waits_for_the_truth(listener: Listener) -> None:
    result: dict[str, requests.Response] = {}
    browser = threading.Thread(
        target=lambda: result.setdefault("r", get(f"http://localhost:{listener.port}/?code=abc&state={STATE}"))
    )
    browser.start()
    url, code = listener.wait(10)
    assert code == "abc"
    assert url.startswith(f"http://localhost:{listener.port}/?")
    time.sleep(0.2)
    assert "r" not in result, "the page must not answer before the exchange finished"
    listener.complete(True, host="https://h", store="memory", scopes=["sql", "<b>x</b>"], missing=[])
    browser.join(10)
    page = result["r"]
    assert page.status_code == 200
    assert "Signed in" in page.text
    assert "&lt;b&gt;x&lt;/b&gt;" in page.text and "<b>x</b>" not in page.text
    assert "<script" not in page.text and "src=" not in page.text and "href=" not in page.text


def test_failure_outcome_renders_error_page(listener: Listener) -> None:
    result: dict[str, requests.Response] = {}
    browser = threading.Thread(target=lambda: result.setdefault("r", get(f"{base(listener)}/?code=abc&state={STATE}")))
    browser.start()
    listener.wait(10)
    listener.complete(False, heading="Sign-in failed", message="<img src=x onerror=alert(1)>", detail="", next_step="")
    browser.join(10)
    assert "Sign-in failed" in result["r"].text
    assert "<img" not in result["r"].text
    assert "Signed in<" not in result["r"].text


def test_error_redirect_with_our_state_ends_login_denied(listener: Listener) -> None:
    resp = get(f"{base(listener)}/?error=access_denied&error_description=User+said+%3Cno%3E&state={STATE}")
    assert resp.status_code == 200
    assert "&lt;no&gt;" in resp.text
    with pytest.raises(AuthorizationDeniedError) as info:
        listener.wait(5)
    assert info.value.error == "access_denied"
    assert info.value.description == "User said <no>"


def test_second_callback_after_the_first_is_refused(listener: Listener) -> None:
    threading.Thread(target=lambda: get(f"{base(listener)}/?code=one&state={STATE}"), daemon=True).start()
    listener.wait(10)
    second = get(f"{base(listener)}/?code=two&state={STATE}")
    assert second.status_code == 409
    listener.complete(True, host="h", store="memory", scopes=[], missing=[])


def test_timeout_raises_and_names_the_redirect(listener: Listener) -> None:
    started = time.monotonic()
    with pytest.raises(CallbackTimeoutError) as info:
        listener.wait(0.3)
    assert time.monotonic() - started < 5
    assert f"localhost:{listener.port}" in str(info.value)


def test_ipv6_loopback_answers_when_present(listener: Listener) -> None:
    if not any(s.family == socket.AF_INET6 for s in listener.sockets):
        pytest.skip("this machine has no ::1")
    resp = get(f"http://[::1]:{listener.port}/favicon.ico")
    assert resp.status_code == 404


PRIVILEGED = """
from scopedauth.errors import ListenerError
from scopedauth.oauth.listener import Listener
try:
    Listener(redirect_uri="http://localhost:80", state="s" * 43, port=80)
except ListenerError as exc:
    print(exc)
"""


def test_a_privileged_port_is_reported_as_permission_denied_not_busy() -> None:
    """Finding 15: EACCES said "port 80 is busy", sending people to look for a program that is not there."""
    argv = [sys.executable, "-c", PRIVILEGED]
    if os.geteuid() == 0:  # root may bind port 80: drop to nobody, as a normal user runs it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv to drop privileges")
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    elif int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= 80:
        pytest.skip("this kernel lets every user bind port 80")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr
    message = done.stdout
    assert "permission denied" in message.lower() and "busy" not in message
    assert "port 80" in message and "--port" in message


def test_other_bind_failures_name_their_real_cause() -> None:
    from scopedauth.oauth.listener import _bind

    with pytest.raises(ListenerError) as info:
        _bind(socket.AF_INET, "192.0.2.1", 0)  # TEST-NET-1: no interface of this machine has it
    assert "cannot listen on 192.0.2.1:0" in str(info.value)
    assert "assign requested address" in str(info.value).lower() and "busy" not in str(info.value)


@pytest.mark.parametrize("ok", [True, False], ids=["success", "failure"])
def test_pages_show_controls_as_escapes(listener: Listener, ok: bool) -> None:
    """Finding 7 for the browser: every value in a page goes through the same sanitiser, then HTML escaping."""
    result: dict[str, requests.Response] = {}
    browser = threading.Thread(target=lambda: result.setdefault("r", get(f"{base(listener)}/?code=abc&state={STATE}")))
    browser.start()
    listener.wait(10)
    hostile = "a\u202eb\x1bc\x00d<e>"
    if ok:
        listener.complete(True, host=hostile, store="memory", scopes=[hostile], missing=[hostile])
    else:
        listener.complete(False, heading=hostile, message=hostile, detail=hostile, next_step=hostile)
    browser.join(10)
    text = result["r"].text
    for raw in ("\u202e", "\x1b", "\x00", "<e>"):
        assert raw not in text
    # success: host, scope, missing; failure: title, heading, message, detail, next step
    assert text.count("a\\u202eb\\x1bc\\x00d&lt;e&gt;") == (3 if ok else 5)


def test_a_denied_redirect_shows_the_server_text_escaped(listener: Listener) -> None:
    resp = get(f"{base(listener)}/?error=access_denied&error_description=no%C2%A0%E2%80%AEway&state={STATE}")
    assert resp.status_code == 200
    assert "no\u00a0\\u202eway" in resp.text and "\u202e" not in resp.text
    with pytest.raises(AuthorizationDeniedError):
        listener.wait(5)
