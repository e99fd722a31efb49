"""A real browser signs in: Playwright drives Debian's headless Chromium through the login.

``scopedauth.login`` runs for real in a background thread (real listener, real sandbox, real
exchange); its ``opener`` hands the authorize URL to this thread, where Chromium opens the
sandbox consent page, clicks Allow or Deny, follows the redirect to the loopback listener and
renders our page. Playwright's sync API is used from the test's thread only.

Chromium comes from ``SCOPEDAUTH_CHROMIUM`` (default ``/usr/bin/chromium``). Without it the
tests skip, unless ``SCOPEDAUTH_REQUIRE_BROWSER=1`` (CI), which turns the skip into a failure.
Both variables are read at import time: the autouse ``isolated_env`` fixture clears every
``SCOPEDAUTH_*`` variable before a test body runs. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import scopedauth
from scopedauth.config import resolve_target
from scopedauth.errors import AuthorizationDeniedError
from scopedauth.sandbox import Sandbox
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SCOPEDAUTH_CHROMIUM") or "/usr/bin/chromium"
REQUIRE_BROWSER = os.environ.get("SCOPEDAUTH_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
STEP_MS = 10_000  # any single browser step
LOGIN_TIMEOUT = 15.0  # the listener gives up after this; the file must stay under 20 s anyway


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"SCOPEDAUTH_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _chromium_path() -> str:
    found = shutil.which(CHROMIUM)
    if found is None:
        _unavailable(f"no Chromium executable at {CHROMIUM!r} (set SCOPEDAUTH_CHROMIUM to its path)")
    return str(found)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium with its own profile dir; yields a Playwright page."""
    executable = _chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"the playwright package is not importable ({exc})")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 900, "height": 700},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(STEP_MS)
            yield page
        finally:
            context.close()


@dataclass
class BackgroundLogin:
    """``scopedauth.login`` in a thread; the authorize URL comes back through ``urls``."""

    sandbox: Sandbox
    port: int
    store: TokenStore = field(default_factory=lambda: TokenStore(MemoryBackend()))
    urls: queue.Queue[str] = field(default_factory=queue.Queue)
    result: dict[str, Any] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.target = resolve_target(host=self.sandbox.url, scopes="sql files.files")
        self.thread = threading.Thread(target=self._run, name="test-login", daemon=True)

    def _opener(self, url: str) -> bool:
        self.urls.put(url)  # only hand the URL over: the browser lives on the test's thread
        return True

    def _run(self) -> None:
        try:
            self.result["token"] = scopedauth.login(
                self.target,
                store=self.store,
                port=self.port,
                opener=self._opener,
                timeout=LOGIN_TIMEOUT,
                say=self.said.append,
            )
        except BaseException as exc:  # handed to the test's thread
            self.result["error"] = exc

    def start(self) -> str:
        self.thread.start()
        return self.urls.get(timeout=STEP_MS / 1000)

    def finish(self) -> Any:
        self.thread.join(LOGIN_TIMEOUT + 5)
        assert not self.thread.is_alive(), "the login did not return"
        return self.result


def _consent(page: Any, url: str, sandbox: Sandbox, button: str, listener_port: int) -> None:
    """Open the authorize URL, check it is the sandbox consent page, click ``button``."""
    page.goto(url)
    assert page.url.startswith(sandbox.url + "/oidc/"), page.url
    assert page.locator("form#consent").count() == 1
    consent_scopes = page.locator("#scopes li").all_inner_texts()
    assert sorted(consent_scopes) == ["files.files", "offline_access", "sql"]
    # the click posts the form; the sandbox redirects to the listener, which holds the request
    # until the terminal side has finished, then answers with our page
    with page.expect_navigation(url=f"http://localhost:{listener_port}/**", wait_until="load"):
        page.click(f"#{button}")


def _screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def test_chromium_allow_shows_signed_in_and_stores_the_token(
    chromium: Any, sandbox: Sandbox, listener_port: int
) -> None:
    page = chromium
    login = BackgroundLogin(sandbox, listener_port)
    url = login.start()
    try:
        _consent(page, url, sandbox, "allow", listener_port)
        heading = page.inner_text("h1#result")
        scopes = page.locator("ul#scopes li").all_inner_texts()
        body = page.inner_text("body")
        title = page.title()
        _screenshot(page, "success.png")
    finally:
        result = login.finish()
    assert "error" not in result, result.get("error")
    token = result["token"]
    assert heading == "Signed in"
    assert title == "scopedauth — Signed in"
    assert sorted(scopes) == ["files.files", "offline_access", "sql"] == sorted(token.granted_scopes)
    assert sandbox.url in body and "memory" in body
    assert "Not granted" not in body
    assert token.access_token not in page.content() and token.refresh_token not in page.content()
    stored = login.store.load(login.target)
    assert stored is not None and stored.access_token == token.access_token
    assert sandbox.stats.authorize_requests == 1 and sandbox.stats.code_exchanges == 1
    # the page answered only after the token was stored: a fresh get_token needs no network
    scopedauth.grants.session.forget_memory()
    assert scopedauth.get_token(login.target, store=login.store).access_token == token.access_token


def test_chromium_deny_shows_refused_and_stores_nothing(chromium: Any, sandbox: Sandbox, listener_port: int) -> None:
    page = chromium
    login = BackgroundLogin(sandbox, listener_port)
    url = login.start()
    try:
        _consent(page, url, sandbox, "deny", listener_port)
        heading = page.inner_text("h1#result")
        detail = page.inner_text("#detail")
        body = page.inner_text("body")
        _screenshot(page, "denied.png")
    finally:
        result = login.finish()
    assert "token" not in result
    error = result.get("error")
    assert isinstance(error, AuthorizationDeniedError), repr(error)
    assert error.error == "access_denied"
    assert heading == "Sign-in refused"
    assert detail.startswith("access_denied")
    assert "Signed in" not in body
    assert login.store.backend.data == {}  # type: ignore[attr-defined]
    assert sandbox.stats.code_exchanges == 0
