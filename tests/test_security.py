"""Security properties, one ordinary test each, over real sockets, the real sandbox and listener.

* The listener listens on loopback only (its socket objects, ``/proc/net/tcp{,6}``, ``ss``).
* A callback with a wrong state, a foreign ``Host``, another method, an oversized query or a
  wrong path never ends a login, even carrying the real code; a correct one still does.
* Values reflected into our pages are escaped.
* Tokens never reach stderr, DEBUG logs (scopedauth, root, urllib3, werkzeug, authlib),
  exception messages or tracebacks, or reprs.
* The file store is 0600 inside a 0700 directory, whatever the umask (a directory the user named
  that already existed keeps its own mode: tests/test_paths.py).
* Plain-http endpoints are refused unless loopback, including from discovery metadata.
* PKCE verifier and state carry at least 256 and 128 bits; the authorize URL always says S256
  and never carries the verifier.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import ipaddress
import json
import logging
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest
import requests

import scopedauth
from scopedauth.config import Target, resolve_target
from scopedauth.errors import (
    AuthorizationDeniedError,
    ConfigError,
    InvalidGrantError,
    LoginRequiredError,
    StorageError,
)
from scopedauth.grants import manage, session
from scopedauth.oauth import client as oauth
from scopedauth.oauth import pkce
from scopedauth.oauth.endpoints import Endpoints, discover
from scopedauth.oauth.listener import Listener
from scopedauth.sandbox import Sandbox
from scopedauth.sandbox.useragent import _ConsentForm
from scopedauth.storage.backends import FileBackend, MemoryBackend
from scopedauth.storage.store import TokenStore
from scopedauth.tokens import Token, utcnow
from scopedauth.urls import parse_url
from tests.localhttp import LocalOAuth

STATE = "s" * 43
#: looks like a Databricks personal access token / JWT: what a scanner of logs would look for
SECRET = "dapi" + "0123456789abcdef" * 2 + "-eyJhbGciOiJIUzI1NiJ9.c2VjcmV0"


def http() -> requests.Session:
    sess = requests.Session()
    sess.trust_env = False
    return sess


def get(url: str, **kw: Any) -> requests.Response:
    with http() as sess:
        return sess.get(url, timeout=10, **kw)


def quiet(_message: str) -> None:
    return None


def consent(authorize_url: str, decision: str = "allow") -> str:
    """Play the user on the sandbox over real HTTP; return the redirect Location, not followed."""
    with http() as sess:
        page = sess.get(authorize_url, allow_redirects=False, timeout=10)
        assert page.status_code == 200, page.text
        form = _ConsentForm()
        form.feed(page.text)
        assert form.action is not None
        data = {**dict(form.fields), "decision": decision}
        answer = sess.post(urljoin(authorize_url, form.action), data=data, allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), answer.text
        return str(answer.headers["Location"])


def login_with(sandbox: Sandbox, port: int, user: Callable[[str], None], **kw: Any) -> Token:
    """``scopedauth.login`` whose opener runs ``user(authorize_url)`` in a thread."""
    errors: list[BaseException] = []

    def opener(url: str) -> bool:
        def run() -> None:
            try:
                user(url)
            except BaseException as exc:
                errors.append(exc)

        threading.Thread(target=run, daemon=True).start()
        return True

    kw.setdefault("store", TokenStore(MemoryBackend()))
    kw.setdefault("say", quiet)
    try:
        return scopedauth.login(
            resolve_target(host=sandbox.url, scopes="sql files.files"), port=port, opener=opener, timeout=20, **kw
        )
    finally:
        assert not errors, errors


def approve(pages: list[requests.Response]) -> Callable[[str], None]:
    def user(url: str) -> None:
        pages.append(get(consent(url)))

    return user


@pytest.fixture
def local_oauth() -> Iterator[LocalOAuth]:
    server = LocalOAuth()
    yield server
    server.close()


def paste_login(server: LocalOAuth, **kw: Any) -> tuple[str, Token]:
    """A real ``login --paste`` against ``server``; returns the authorize URL and the token."""
    said: list[str] = []

    def read_line(_prompt: str) -> str:
        url = re.search(r"https?://\S+", "\n".join(said))
        assert url is not None
        state = parse_qs(urlsplit(url[0]).query)["state"][0]
        return f"http://localhost:8020/?code=c0de&state={state}"

    token = scopedauth.login(host=server.url, scopes="sql", mode="paste", read_line=read_line, say=said.append, **kw)
    authorize_url = re.search(r"https?://\S+", "\n".join(said))
    assert authorize_url is not None
    return authorize_url[0], token


# -- loopback only -----------------------------------------------------------------------------


def _proc_listeners(port: int) -> set[str]:
    """Local addresses in LISTEN state on ``port``, from /proc/net/tcp and tcp6."""
    found: set[str] = set()
    for name, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] != "0A" or int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))
            found.add(str(ipaddress.ip_address(packed)))
    return found


def _ss_listeners(port: int) -> set[str] | None:
    ss = shutil.which("ss")
    if ss is None:
        return None
    out = subprocess.run([ss, "-ltnH", f"sport = :{port}"], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        return None
    return {line.split()[3].rsplit(":", 1)[0].strip("[]") for line in out.stdout.splitlines() if line.strip()}


def _outside_address() -> str | None:
    """An address of this machine that is not loopback (the route to TEST-NET-1), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP connect sends nothing
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


def test_listener_sockets_are_bound_to_loopback_only(listener_port: int) -> None:
    with Listener(redirect_uri=f"http://localhost:{listener_port}", state=STATE, port=listener_port) as lst:
        bound = {s.getsockname()[0] for s in lst.sockets}
        assert "127.0.0.1" in bound and bound <= {"127.0.0.1", "::1"}
        assert all(ipaddress.ip_address(a).is_loopback for a in bound)
        for sock in lst.sockets:
            assert sock.getsockname()[1] == listener_port
            if sock.family == socket.AF_INET6:  # not a dual-stack socket that also takes IPv4
                assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1

        if Path("/proc/net/tcp").exists():  # Linux: what the kernel says is listening on the port
            kernel = _proc_listeners(listener_port)
            assert kernel == bound, f"the kernel lists {kernel} for port {listener_port}"
        listed = _ss_listeners(listener_port)
        if listed is not None:
            assert listed == bound

        outside = _outside_address()
        if outside is not None:
            with socket.socket() as probe, pytest.raises(OSError):
                probe.settimeout(2)
                probe.connect((outside, listener_port))


def test_a_real_login_listens_on_loopback_only(sandbox: Sandbox, listener_port: int) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system (the socket-level check above still runs)")
    seen: dict[str, set[str] | None] = {}

    def user(url: str) -> None:
        seen["proc"] = _proc_listeners(listener_port)  # while the login waits for the browser
        seen["ss"] = _ss_listeners(listener_port)
        get(consent(url))

    login_with(sandbox, listener_port, user)
    assert seen["proc"] and all(ipaddress.ip_address(a).is_loopback for a in seen["proc"]), seen
    assert seen["ss"] is None or seen["ss"] == seen["proc"]
    assert _proc_listeners(listener_port) == set(), "the port is still listening after the login"


# -- what never ends a login -------------------------------------------------------------------


def _tamper(kind: str, location: str) -> requests.Response:
    """Send a variant of the real redirect ``location`` (carrying the real code)."""
    parts = urlsplit(location)
    port = parts.port
    query = parts.query
    direct = f"http://127.0.0.1:{port}"
    with http() as sess:
        if kind == "wrong_state":
            forged = re.sub(r"state=[^&]*", "state=" + "A" * 43, query)
            return sess.get(f"{direct}/?{forged}", timeout=10)
        if kind == "missing_state":
            return sess.get(f"{direct}/?{re.sub(r'&?state=[^&]*', '', query)}", timeout=10)
        if kind == "forged_denial":
            return sess.get(f"{direct}/?error=access_denied&state=guess", timeout=10)
        if kind == "foreign_host":
            return sess.get(f"{direct}/?{query}", headers={"Host": f"evil.example:{port}"}, timeout=10)
        if kind == "rebinding_host":
            return sess.get(f"{direct}/?{query}", headers={"Host": f"localhost.evil.example:{port}"}, timeout=10)
        if kind in ("POST", "PUT", "HEAD"):
            return sess.request(kind, f"{direct}/?{query}", timeout=10)
        if kind == "oversized":
            return sess.get(f"{direct}/?{query}&pad={'x' * 8300}", timeout=10)
        if kind == "wrong_path":
            return sess.get(f"{direct}/callback?{query}", timeout=10)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("wrong_state", 400),
        ("missing_state", 400),
        ("forged_denial", 400),
        ("foreign_host", 421),
        ("rebinding_host", 421),
        ("POST", 405),
        ("PUT", 405),
        ("HEAD", 405),
        ("oversized", 414),
        ("wrong_path", 404),
    ],
)
def test_a_bad_callback_never_ends_the_login(sandbox: Sandbox, listener_port: int, kind: str, status: int) -> None:
    bad: list[requests.Response] = []
    final: list[requests.Response] = []

    def user(url: str) -> None:
        location = consent(url)
        bad.append(_tamper(kind, location))
        final.append(get(location))

    store = TokenStore(MemoryBackend())
    token = login_with(sandbox, listener_port, user, store=store)
    assert bad[0].status_code == status
    assert "Signed in" not in bad[0].text
    assert final[0].status_code == 200 and "Signed in" in final[0].text
    assert sandbox.stats.code_exchanges == 1
    stored = store.load(token.target)
    assert stored is not None and stored.access_token == token.access_token


# -- escaping ----------------------------------------------------------------------------------


def test_reflected_error_values_are_escaped_in_the_page(sandbox: Sandbox, listener_port: int) -> None:
    script = "<script>alert(document.cookie)</script>"
    img = '"><img src=x onerror=alert(1)>'
    pages: list[requests.Response] = []

    def user(url: str) -> None:
        state = parse_qs(urlsplit(url).query)["state"][0]
        query = f"error={quote(img)}&error_description={quote(script)}&state={state}"
        pages.append(get(f"http://localhost:{listener_port}/?{query}"))

    store = TokenStore(MemoryBackend())
    with pytest.raises(AuthorizationDeniedError) as info:
        login_with(sandbox, listener_port, user, store=store)
    assert info.value.error == img and info.value.description == script
    page = pages[0]
    assert "Sign-in refused" in page.text
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<script" not in page.text.lower() and "<img" not in page.text.lower()
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert store.backend.data == {}  # type: ignore[attr-defined]


# -- tokens never leak -------------------------------------------------------------------------


def _secrets_of(*tokens: Token | None) -> set[str]:
    found = set()
    for tok in tokens:
        if tok is not None:
            found.add(tok.access_token)
            if tok.refresh_token:
                found.add(tok.refresh_token)
    return found


def _leaks(text: str, secrets: set[str]) -> list[str]:
    return [s[:12] + "…" for s in secrets if s in text]


#: the sandbox in its own process: every log record in this process is then the client's own
_SANDBOX_PROCESS = """
import sys
from scopedauth.sandbox import Sandbox, SandboxConfig

port = int(sys.argv[1])
with Sandbox(SandboxConfig(redirect_uris={"databricks-cli": [f"http://localhost:{port}"]})) as sb:
    print(sb.url, sb.app_url, flush=True)
    for line in sys.stdin:
        if line.strip() == "expire":
            sb.expire_access_tokens()
        print(sb.stats.code_exchanges, sb.stats.refreshes, sb.stats.revocations, flush=True)
"""


class SandboxProcess:
    def __init__(self, listener_port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SANDBOX_PROCESS, str(listener_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
        assert self.proc.stdout is not None
        self.url, self.app_url = self.proc.stdout.readline().split()

    def command(self, line: str = "stats") -> tuple[int, ...]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return tuple(int(n) for n in self.proc.stdout.readline().split())

    def close(self) -> None:
        """EOF on its stdin stops the server; then reap it and close our end of its stdout."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def test_tokens_never_reach_stderr_or_debug_logs(
    listener_port: int, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("scopedauth", "urllib3", "werkzeug", "authlib", "requests", "filelock"):
        caplog.set_level(logging.DEBUG, logger=name)
    server = SandboxProcess(listener_port)
    try:
        store = TokenStore(MemoryBackend())
        tgt = resolve_target(host=server.url, scopes="sql files.files")
        seen: list[Token | None] = []

        first = scopedauth.login(tgt, store=store, port=listener_port, opener=_thread(approve([])), timeout=20)
        seen.append(first)
        # an expired record: get_token refreshes (and the rotated refresh token is saved)
        assert first.expiry is not None
        store.save(first.replace(expiry=first.obtained_at + timedelta(seconds=5)))
        session.forget_memory()
        second = scopedauth.get_token(tgt, store=store)
        seen.append(second)
        assert second.access_token != first.access_token
        # the app refuses the token: BearerAuth renews once and retries
        server.command("expire")
        with http() as sess:
            resp = sess.get(f"{server.app_url}/api/hello", auth=scopedauth.BearerAuth(tgt, store=store), timeout=10)
        assert resp.status_code == 200
        seen.append(store.load(tgt))
        scopedauth.logout(tgt, store=store)
        assert server.command() == (1, 2, 1)  # exchanges, refreshes, revocations
    finally:
        server.close()

    secrets = _secrets_of(*seen)
    assert len(secrets) == 6  # three access tokens, three refresh tokens
    captured = capfd.readouterr()
    assert "Waiting up to" in captured.err  # the default `say` really wrote to fd 2
    assert any(r.name.startswith("urllib3") for r in caplog.records), "DEBUG capture is not working"
    assert not _leaks(captured.err, secrets), "a token reached stderr"
    assert not _leaks(captured.out, secrets), "a token reached stdout"
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        assert not _leaks(text, secrets), f"a token in the {record.name} log: {record.getMessage()[:80]}"


def _thread(user: Callable[[str], None]) -> Callable[[str], bool]:
    def opener(url: str) -> bool:
        threading.Thread(target=user, args=(url,), daemon=True).start()
        return True

    return opener


def _rendered(exc: BaseException) -> str:
    return f"{exc}\n{exc!r}\n{exc.args!r}\n" + "".join(traceback.format_exception(exc))


def test_invalid_grant_error_does_not_carry_tokens(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    first = login_with(sandbox, listener_port, approve([]), store=store)
    rotated = oauth.refresh(first)
    with pytest.raises(InvalidGrantError) as info:
        oauth.refresh(first)  # reusing a rotated refresh token
    assert info.value.error == "invalid_grant"
    secrets = _secrets_of(first, rotated)
    assert not _leaks(_rendered(info.value), secrets)

    store.save(first.replace(expiry=utcnow() - timedelta(minutes=1)))
    session.forget_memory()
    with pytest.raises(LoginRequiredError) as required:
        scopedauth.get_token(first.target, store=store)
    assert not _leaks(_rendered(required.value), secrets)


TARGET = Target("https://adb-1.azuredatabricks.net", scopes=("offline_access", "sql"))


def _record(**fields: object) -> str:
    good = json.loads(
        Token(
            target=TARGET,
            access_token="eyJ.good",
            refresh_token="good-refresh",
            expiry=utcnow() + timedelta(hours=1),
            token_endpoint="https://adb-1.azuredatabricks.net/oidc/v1/token",
        ).to_json()
    )
    good.update(fields)
    return json.dumps(good)


CORRUPT_RECORDS = {
    "not json": SECRET,
    "json string": json.dumps(SECRET),
    "truncated": _record(access_token=SECRET)[:-20],
    "expiry holds it": _record(expiry=SECRET),
    "obtained_at holds it": _record(obtained_at=SECRET),
    "scopes holds it": _record(scopes=["sql", SECRET + '"']),
    "host not a string": _record(host=[SECRET]),
    "refresh not a string": _record(refresh_token={"value": SECRET}),
    "needs_login holds it": _record(needs_login=SECRET),
    "another target": _record(host="https://other.example", access_token=SECRET),
    "chunk header": "scopedauth-chunks:v1:" + SECRET,
    "version holds it": _record(version=SECRET),
    "version is true": _record(version=True, access_token=SECRET),
}


@pytest.mark.parametrize("raw", CORRUPT_RECORDS.values(), ids=CORRUPT_RECORDS.keys())
def test_storage_error_from_a_corrupt_record_does_not_quote_it(raw: str) -> None:
    backend = MemoryBackend()
    backend.data[TARGET.key] = raw
    store = TokenStore(backend)
    for read in (lambda: store.load(TARGET), lambda: scopedauth.get_token(TARGET, store=store)):
        with pytest.raises(StorageError) as info:
            read()
        assert not _leaks(_rendered(info.value), {SECRET}), str(info.value)
    entry = manage.status(store, targets=[TARGET])[0]
    assert entry.error and SECRET not in entry.error
    assert backend.data[TARGET.key] == raw  # left untouched


@pytest.mark.parametrize(
    "content",
    ["{" + json.dumps(SECRET), json.dumps({TARGET.key: {"access_token": SECRET}}), json.dumps([SECRET])],
    ids=["not json", "value not a string", "not an object"],
)
def test_storage_error_from_a_corrupt_token_file_does_not_quote_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "config" / "tokens.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(StorageError) as info:
        scopedauth.get_token(TARGET, store=TokenStore(FileBackend(path)))
    assert not _leaks(_rendered(info.value), {SECRET}), str(info.value)
    assert path.read_text() == content


def test_reprs_never_show_tokens() -> None:
    token = Token(
        target=TARGET,
        access_token=SECRET + "-access",
        refresh_token=SECRET + "-refresh",
        expiry=utcnow() + timedelta(hours=1),
        granted_scopes=("sql",),
        token_endpoint="https://adb-1.azuredatabricks.net/oidc/v1/token",
    )
    rendered = [
        repr(token),
        str(token),
        f"{token}",
        f"{token!r}",
        "%s %r" % (token, token),  # noqa: UP031  (what a logging call does)
        repr([token]),
        repr({"t": token}),
        repr(token.replace(needs_login=True)),
        repr(TARGET),
        str(TARGET),
        repr(scopedauth.BearerAuth(TARGET)),
        repr(scopedauth.BearerAuth(host="https://adb-1.azuredatabricks.net", scopes="sql")),
        repr(manage.StatusEntry(TARGET, token, None, "memory")),
        repr(manage.LogoutResult(TARGET, True, True)),
    ]
    for text in rendered:
        assert SECRET not in text, text
    assert "<redacted>" in repr(token) and "expires in" in repr(token)
    logging.getLogger("scopedauth.test").warning("token %s", token)  # must not raise either


def test_a_store_is_never_served_another_stores_cached_token() -> None:
    signed_in = []
    for _ in range(500):
        store = TokenStore(MemoryBackend())
        store.save(Token(target=TARGET, access_token=SECRET, expiry=utcnow() + timedelta(hours=1)))
        assert scopedauth.get_token(TARGET, store=store).access_token == SECRET  # now in this process's memory
        signed_in.append(store)
    gone = {id(store.backend) for store in signed_in}
    backends = [weakref.ref(store.backend) for store in signed_in]
    del store, signed_in  # 500 stores freed at once, unless something still holds their backends
    gc.collect()
    if all(ref() is not None for ref in backends):
        return  # the cache keeps every backend it keys alive: no other backend can get its id
    alive: list[TokenStore] = []  # keep every probe alive so each new backend gets a fresh address
    for _ in range(20_000):
        alive.append(TokenStore(MemoryBackend()))
        if id(alive[-1].backend) in gone:
            break
    else:
        pytest.skip("the allocator never reused an address; nothing to show on this interpreter")
    empty = alive[-1]
    assert empty.backend.data == {}  # type: ignore[attr-defined]
    with pytest.raises(LoginRequiredError):
        scopedauth.get_token(TARGET, store=empty)


# -- the file store ----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["own-loose-dir", "named-new-dir"])
def test_file_store_is_0600_in_a_0700_directory_whatever_the_umask(
    sandbox: Sandbox, listener_port: int, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "own-loose-dir":  # the default <config>/scopedauth, created loosely beforehand: tightened
        monkeypatch.delenv("SCOPEDAUTH_CONFIG_DIR")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(isolated_env / "xdg"))
        config = isolated_env / "xdg" / "scopedauth"
        config.mkdir(parents=True, mode=0o755)
        config.chmod(0o755)
    else:  # SCOPEDAUTH_CONFIG_DIR naming a directory that does not exist yet: created 0700
        config = isolated_env / "config"
        assert not config.exists()
    old = os.umask(0)
    try:
        first = login_with(sandbox, listener_port, approve([]), store="file")
        store = session.store_for("file")
        assert isinstance(store.backend, FileBackend)
        path = store.backend.path
        assert path == config / "tokens.json"
        modes = [(stat.S_IMODE(path.stat().st_mode), stat.S_IMODE(config.stat().st_mode))]
        # a refresh rewrites the file: still private
        store.save(first.replace(expiry=first.obtained_at + timedelta(seconds=5)))
        session.forget_memory()
        second = scopedauth.get_token(first.target, store="file")
        modes.append((stat.S_IMODE(path.stat().st_mode), stat.S_IMODE(config.stat().st_mode)))
    finally:
        os.umask(old)
    assert second.access_token != first.access_token
    assert modes == [(0o600, 0o700), (0o600, 0o700)]
    assert second.access_token in path.read_text()
    # no temporary copy or other file anywhere under the isolated dirs holds a token
    holders = [
        p
        for p in isolated_env.rglob("*")
        if p.is_file() and any(s.encode() in p.read_bytes() for s in _secrets_of(first, second))
    ]
    assert holders == [path]
    leftovers = [p.name for p in config.iterdir() if p.name not in ("tokens.json", "tokens.json.lock")]
    assert leftovers == []


# -- https only --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example/token",
        "http://EVIL.example/token",
        "HTTP://evil.example/token",
        "http://localhost.evil.example/token",
        "http://127.0.0.1.nip.io/token",
        "http://127.0.0.1@evil.example/token",
        "http://evil.example#@127.0.0.1/token",
        "http://0.0.0.0/token",
        "http://10.0.0.1/token",
        "ftp://evil.example/token",
        "//evil.example/token",
        "https:///token",
        "evil.example/token",
        "",
    ],
)
def test_endpoint_urls_must_be_https_off_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="token endpoint"):
        parse_url(url, "token endpoint")


@pytest.mark.parametrize(
    "url",
    [
        "https://adb-1.azuredatabricks.net/oidc/v1/token",
        "http://127.0.0.1:8080/oidc/v1/token",
        "http://127.5.5.5/token",
        "http://localhost:1/token",
        "http://[::1]:9/token",
    ],
)
def test_endpoint_urls_may_be_https_or_loopback_http(url: str) -> None:
    assert str(parse_url(url, "token endpoint")) == url


@pytest.mark.parametrize(
    "override",
    [
        {"token_endpoint": "http://evil.example/token"},
        {"authorization_endpoint": "http://evil.example/authorize"},
        {"revocation_endpoint": "http://evil.example/revoke"},
    ],
    ids=["token", "authorize", "revocation"],
)
def test_discovery_refuses_plain_http_endpoints(local_oauth: LocalOAuth, override: dict[str, str]) -> None:
    local_oauth.metadata(**override)
    target = resolve_target(host=local_oauth.url, scopes="sql")
    with pytest.raises(ConfigError, match=re.escape(next(iter(override.values())))):
        discover(target)


def test_discovery_refuses_a_plain_http_oidc_endpoint_from_databricks_config(local_oauth: LocalOAuth) -> None:
    local_oauth.docs["/.well-known/databricks-config"] = {"oidc_endpoint": "http://evil.example/oidc"}
    with pytest.raises(ConfigError, match=r"evil\.example"):
        discover(resolve_target(host=local_oauth.url, scopes="sql"))


def test_login_stops_before_the_browser_on_an_http_token_endpoint(local_oauth: LocalOAuth, listener_port: int) -> None:
    local_oauth.metadata(token_endpoint="http://evil.example/token")
    opened: list[str] = []
    store = TokenStore(MemoryBackend())
    with pytest.raises(ConfigError, match=r"evil\.example"):
        scopedauth.login(
            host=local_oauth.url,
            scopes="sql",
            store=store,
            port=listener_port,
            opener=lambda u: opened.append(u) or True,
            timeout=5,
            say=quiet,
        )
    assert opened == [] and store.backend.data == {}  # type: ignore[attr-defined]
    assert local_oauth.token_posts == []
    with socket.socket() as probe:  # no listener was ever bound
        probe.bind(("127.0.0.1", listener_port))


# -- PKCE and state ----------------------------------------------------------------------------


def _b64url_bytes(text: str) -> bytes:
    assert re.fullmatch(r"[A-Za-z0-9_-]+", text), text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bit_balance(blobs: list[bytes]) -> float:
    ones = sum(bin(b).count("1") for blob in blobs for b in blob)
    return ones / (8 * sum(len(b) for b in blobs))


def test_verifier_carries_at_least_256_bits_and_never_repeats() -> None:
    draws = [pkce.make_verifier() for _ in range(3000)]
    assert len(set(draws)) == len(draws)
    raw = [_b64url_bytes(v) for v in draws]
    assert min(len(r) for r in raw) >= 32
    assert all(43 <= len(v) <= 128 and pkce.UNRESERVED.issuperset(v) for v in draws)
    assert abs(_bit_balance(raw) - 0.5) < 0.01  # random bytes, not text re-encoded
    assert len({r[:8] for r in raw}) == len(raw)


def test_state_carries_at_least_128_bits_and_never_repeats() -> None:
    draws = [pkce.make_state() for _ in range(3000)]
    assert len(set(draws)) == len(draws)
    raw = [_b64url_bytes(s) for s in draws]
    assert min(len(r) for r in raw) >= 16
    assert abs(_bit_balance(raw) - 0.5) < 0.01


def test_the_flow_uses_fresh_high_entropy_values_and_sends_the_verifier_only_to_the_token_endpoint(
    local_oauth: LocalOAuth,
) -> None:
    local_oauth.metadata()
    states, verifiers = set(), set()
    for _ in range(8):
        session.forget_memory()
        url, token = paste_login(local_oauth, store=TokenStore(MemoryBackend()))
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        post = local_oauth.token_posts[-1]
        verifier = post["code_verifier"][0]
        state = query["state"][0]
        assert len(_b64url_bytes(verifier)) >= 32 and len(_b64url_bytes(state)) >= 16
        assert query["code_challenge_method"] == ["S256"]
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        assert query["code_challenge"] == [challenge]
        assert verifier not in url and quote(verifier, safe="") not in url
        assert "plain" not in url
        assert post["grant_type"] == ["authorization_code"] and "client_secret" not in post
        assert token.access_token == "eyJ.local"
        states.add(state)
        verifiers.add(verifier)
    assert len(states) == len(verifiers) == 8


@pytest.mark.parametrize(
    "authorize",
    ["https://adb-1.azuredatabricks.net/oidc/v1/authorize", "https://login.example/authorize?tenant=x"],
)
def test_authorize_url_always_says_s256_and_never_carries_the_verifier(authorize: str) -> None:
    endpoints = Endpoints(authorization_endpoint=authorize, token_endpoint="https://adb-1.azuredatabricks.net/t")
    for scopes in [(), ("sql",), ("all-apis", "offline_access"), ("a/b&c=d", "x:y", "~")]:
        target = Target("https://adb-1.azuredatabricks.net", scopes=scopes)
        for _ in range(50):
            verifier = pkce.make_verifier()
            url = oauth.authorize_url(
                target,
                endpoints,
                redirect_uri="http://localhost:8020",
                challenge=pkce.s256_challenge(verifier),
                state=pkce.make_state(),
            )
            ours = parse_qs(urlsplit(url).query, keep_blank_values=True)
            assert ours["code_challenge_method"] == ["S256"]
            assert ours["code_challenge"] == [pkce.s256_challenge(verifier)]
            assert verifier not in url
            assert url.count("?") == 1


def test_sandbox_login_authorize_url_says_s256(sandbox: Sandbox, listener_port: int) -> None:
    urls: list[str] = []

    def user(url: str) -> None:
        urls.append(url)
        get(consent(url))

    login_with(sandbox, listener_port, user)
    query = parse_qs(urlsplit(urls[0]).query, keep_blank_values=True)
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"] and len(query["code_challenge"][0]) == 43
    assert sandbox.stats.code_exchanges == 1  # the sandbox checked the verifier against it
