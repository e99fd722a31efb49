"""HostedASGI on FastAPI and Starlette, served by uvicorn on loopback, against the sandbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scopedauth.config import Target
from scopedauth.hosted.asgi import HostedASGI, HostedUser
from scopedauth.hosted.keys import Keyring
from scopedauth.hosted.model import HostedStore
from scopedauth.hosted.refresh import open_token
from scopedauth.hosted.webclient import WebClient
from scopedauth.sandbox import Sandbox

from ..conftest import free_port
from .webapp import CLIENT_ID, CLIENT_SECRET, Browser, age_session, fingerprint


class Uvicorn:
    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def make_asgi(sandbox: Sandbox, store: HostedStore, keys: Keyring, port: int) -> HostedASGI:
    redirect_uri = f"http://127.0.0.1:{port}/auth/callback"
    sandbox.add_web_client(CLIENT_ID, CLIENT_SECRET, [redirect_uri])
    return HostedASGI(
        host=sandbox.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes="sql",
        redirect_uri=redirect_uri,
        store=store,
        keys=keys,
    )


@pytest.fixture
def fastapi_url(sandbox: Sandbox, store: HostedStore, keys: Keyring) -> Iterator[str]:
    port = free_port()
    auth = make_asgi(sandbox, store, keys, port)
    app = FastAPI()
    auth.init_app(app)

    @app.get("/api/whoami")
    async def whoami(user: HostedUser = Depends(auth.user)) -> dict[str, str]:  # noqa: B008 - FastAPI idiom
        return {"user": user.subject, "token": fingerprint(await user.access_token())}

    @app.get("/page")
    async def page(user: HostedUser = Depends(auth.user)) -> dict[str, str]:  # noqa: B008 - FastAPI idiom
        return {"user": user.subject}

    @app.get("/sdk")
    def sdk(user: HostedUser = Depends(auth.user)) -> dict[str, str]:  # noqa: B008 - FastAPI idiom
        return {"user": str(user.workspace_client().current_user.me().user_name)}

    server = Uvicorn(app, port)
    yield server.url
    server.close()


def test_fastapi_sign_in_dependency_and_refresh(
    fastapi_url: str, sandbox: Sandbox, store: HostedStore, keys: Keyring
) -> None:
    assert Browser().get(fastapi_url + "/api/whoami").status_code == 401
    page = Browser().get(fastapi_url + "/page?a=b", allow_redirects=False)
    assert page.status_code == 302 and page.headers["location"] == "/auth/login?next=/page%3Fa%3Db"
    browser = Browser()
    done = browser.sign_in(fastapi_url, sandbox, next_path="/api/whoami")
    assert done.status_code == 302 and done.headers["location"] == "/api/whoami"
    first = browser.get(fastapi_url + "/api/whoami").json()
    assert first["user"] == sandbox.config.user
    assert browser.get(fastapi_url + "/sdk").json() == {"user": sandbox.config.user}
    (row,) = store.iter_sessions()
    age_session(store, keys, row, 10)
    assert browser.get(fastapi_url + "/api/whoami").json()["token"] != first["token"]
    assert sandbox.stats.refreshes == 1


def test_fastapi_state_and_logout(fastapi_url: str, sandbox: Sandbox, store: HostedStore) -> None:
    browser = Browser()
    login = browser.get(fastapi_url + "/auth/login", allow_redirects=False)
    forged = sandbox.approve_url(login.headers["location"]).replace("state=", "state=x")
    assert browser.get(forged, allow_redirects=False).status_code == 400
    assert list(store.iter_sessions()) == []
    browser.sign_in(fastapi_url, sandbox)
    assert browser.get(fastapi_url + "/auth/logout").status_code == 405
    assert browser.post(fastapi_url + "/auth/logout", allow_redirects=False).status_code == 303
    assert list(store.iter_sessions()) == [] and sandbox.stats.revocations == 1
    assert browser.get(fastapi_url + "/api/whoami").status_code == 401


def test_starlette_middleware_protects_prefixes(sandbox: Sandbox, store: HostedStore, keys: Keyring) -> None:
    port = free_port()
    auth = make_asgi(sandbox, store, keys, port)

    async def private(request: Request) -> JSONResponse:
        user = await auth.user(request)
        return JSONResponse({"user": user.subject})

    async def public(_request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/private/x", private), Route("/public", public)])
    auth.init_app(app, protect=("/private/",))
    server = Uvicorn(app, port)
    try:
        assert Browser().get(server.url + "/public").json() == {"ok": True}
        refused = Browser().get(server.url + "/private/x", allow_redirects=False)
        assert refused.status_code == 302 and refused.headers["location"].startswith("/auth/login")
        browser = Browser()
        browser.sign_in(server.url, sandbox)
        assert browser.get(server.url + "/private/x").json() == {"user": sandbox.config.user}
    finally:
        server.close()


def test_fastapi_dead_grant_is_401_not_500(
    fastapi_url: str, sandbox: Sandbox, store: HostedStore, keys: Keyring
) -> None:
    browser = Browser()
    browser.sign_in(fastapi_url, sandbox)
    (row,) = store.iter_sessions()
    client = WebClient(Target(sandbox.url, CLIENT_ID, ("sql",)), CLIENT_SECRET, "http://127.0.0.1/cb")
    assert client.revoke(open_token(keys, row))
    age_session(store, keys, row, 10)
    answer = browser.get(fastapi_url + "/api/whoami")
    assert answer.status_code == 401 and answer.json()["error"] == "unauthenticated"
