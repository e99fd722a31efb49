"""``BearerAuth`` with the real httpx (Client and AsyncClient) and aiohttp, against the sandbox.

The same rules as for requests (tests/test_integrations.py): refresh once and retry once on a
401, never replay a consumed streaming body, never send the token over plain http off loopback
or across a redirect to another origin.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
import pytest

import scopedauth
from scopedauth.errors import ConfigError
from scopedauth.sandbox import Sandbox
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from tests.localhttp import Recorder, Redirector
from tests.users import user_login


@pytest.fixture
def store() -> TokenStore:
    return TokenStore(MemoryBackend())


def _auth(sb: Sandbox, store: TokenStore) -> scopedauth.BearerAuth:
    return scopedauth.BearerAuth(host=sb.url, scopes="sql", store=store)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder(401)
    yield server
    server.close()


def _other_origin(recorder: Recorder) -> str:
    return recorder.url.replace("127.0.0.1", "localhost")  # another origin, still loopback


# -- httpx --------------------------------------------------------------------------------------------


def test_httpx_client_sends_the_token_and_retries_once_after_a_401(
    sandbox: Sandbox, listener_port: int, store: TokenStore
) -> None:
    first = user_login(sandbox, listener_port, store)
    with httpx.Client(auth=_auth(sandbox, store), trust_env=False) as client:
        ok = client.get(f"{sandbox.app_url}/api/hello")
        assert ok.status_code == 200 and ok.request.headers["Authorization"] == f"Bearer {first.access_token}"
        sandbox.expire_access_tokens()  # valid by its expiry, refused by the server
        again = client.post(f"{sandbox.app_url}/api/hello", content=b"x")
    assert again.status_code == 200 and again.json()["method"] == "POST"
    assert [r.status_code for r in again.history] == [401]
    assert again.request.headers["Authorization"] != f"Bearer {first.access_token}"
    assert sandbox.stats.refreshes == 1


def test_httpx_async_client_refreshes_once_for_a_401(sandbox: Sandbox, listener_port: int, store: TokenStore) -> None:
    user_login(sandbox, listener_port, store)
    sandbox.expire_access_tokens()

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(auth=_auth(sandbox, store), trust_env=False) as client:
            return await client.get(f"{sandbox.app_url}/api/hello")

    resp = asyncio.run(go())
    assert resp.status_code == 200 and [r.status_code for r in resp.history] == [401]
    assert sandbox.stats.refreshes == 1


def test_httpx_never_replays_a_streamed_body(store: TokenStore, recorder: Recorder) -> None:
    target = scopedauth.Target("https://adb-1.azuredatabricks.net", scopes=("sql",))
    _store_valid(store, target)
    auth = scopedauth.BearerAuth(target, store=store)
    with httpx.Client(auth=auth, trust_env=False) as client:
        resp = client.post(recorder.url, content=iter([b"a", b"b"]))

    async def go() -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"c"

        async with httpx.AsyncClient(auth=auth, trust_env=False) as aclient:
            return await aclient.post(recorder.url, content=body())

    aresp = asyncio.run(go())
    assert resp.status_code == aresp.status_code == 401 and resp.history == aresp.history == []
    assert [body for _, _, body in recorder.seen] == [b"ab", b"c"], "a retry would have sent an empty body"


def test_httpx_drops_the_token_on_a_redirect_to_another_origin(store: TokenStore, recorder: Recorder) -> None:
    target = scopedauth.Target("https://adb-1.azuredatabricks.net", scopes=("sql",))
    _store_valid(store, target)
    hop = Redirector(_other_origin(recorder))
    try:
        with httpx.Client(auth=scopedauth.BearerAuth(target, store=store), trust_env=False) as client:
            resp = client.get(hop.url, follow_redirects=True)
    finally:
        hop.close()
    assert resp.status_code == 401 and recorder.seen == [("GET", None, b"")]


def test_httpx_refuses_plain_http_off_loopback(store: TokenStore) -> None:
    auth = scopedauth.BearerAuth(host="https://example.com", store=store)
    with httpx.Client(auth=auth, trust_env=False) as client, pytest.raises(ConfigError, match="refusing to send"):
        client.get("http://example.com/api/x")


# -- aiohttp ------------------------------------------------------------------------------------------


def test_aiohttp_middleware_sends_the_token_and_retries_once_after_a_401(
    sandbox: Sandbox, listener_port: int, store: TokenStore
) -> None:
    first = user_login(sandbox, listener_port, store)

    async def go() -> list[tuple[int, str]]:
        out = []
        async with aiohttp.ClientSession(middlewares=[_auth(sandbox, store)]) as http:
            async with http.get(f"{sandbox.app_url}/api/hello") as resp:
                out.append((resp.status, resp.request_info.headers["Authorization"]))
            sandbox.expire_access_tokens()
            async with http.post(f"{sandbox.app_url}/api/hello", data=b"x") as resp:
                out.append((resp.status, (await resp.json())["method"]))
        return out

    assert asyncio.run(go()) == [(200, f"Bearer {first.access_token}"), (200, "POST")]
    assert sandbox.stats.refreshes == 1


def test_aiohttp_stops_after_one_retry_and_never_replays_a_stream(store: TokenStore, recorder: Recorder) -> None:
    target = scopedauth.Target("https://adb-1.azuredatabricks.net", scopes=("sql",))
    token = _store_valid(store, target)
    auth = scopedauth.BearerAuth(target, store=store)

    async def go() -> list[int]:
        async def body() -> AsyncIterator[bytes]:
            yield b"s"

        async with aiohttp.ClientSession(middlewares=[auth]) as http:
            async with http.post(recorder.url, data=body()) as streamed:
                pass
            # a replayable body: renewed once (nothing to renew with here), so the 401 comes back
            with pytest.raises(scopedauth.LoginRequiredError):
                await http.post(recorder.url, data=b"b")
        return [streamed.status]

    assert asyncio.run(go()) == [401]
    assert recorder.seen == [("POST", f"Bearer {token}", b"s"), ("POST", f"Bearer {token}", b"b")]


def test_aiohttp_drops_the_token_on_a_redirect_to_another_origin(store: TokenStore, recorder: Recorder) -> None:
    target = scopedauth.Target("https://adb-1.azuredatabricks.net", scopes=("sql",))
    _store_valid(store, target)
    hop = Redirector(_other_origin(recorder))

    async def go() -> int:
        auth = scopedauth.BearerAuth(target, store=store)
        async with aiohttp.ClientSession(middlewares=[auth]) as http, http.get(hop.url) as resp:
            return resp.status

    try:
        status = asyncio.run(go())
    finally:
        hop.close()
    assert status == 401 and recorder.seen == [("GET", None, b"")]


def test_aiohttp_refuses_plain_http_off_loopback(store: TokenStore) -> None:
    async def go() -> None:
        async with aiohttp.ClientSession(middlewares=[scopedauth.BearerAuth(host="https://x.com", store=store)]) as h:
            await h.get("http://example.com/api/x")

    with pytest.raises(ConfigError, match="refusing to send"):
        asyncio.run(go())


def _store_valid(store: TokenStore, target: scopedauth.Target) -> str:
    from datetime import timedelta

    from scopedauth.tokens import Token, utcnow

    store.save(Token(target, access_token="eyJ.stored", expiry=utcnow() + timedelta(hours=1)))
    return "eyJ.stored"
