"""``aget_token`` / ``aheaders``: the loop never waits for the keyring, the lock or a refresh.

The sandbox holds every token-endpoint answer back for a second, so an implementation that
refreshed on the loop would stall it for about that long; a ticker coroutine measures the worst
stall. The assertions are on behaviour (one refresh; a stall far below the refresh's second),
not on speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

import scopedauth
from scopedauth.grants import session
from scopedauth.sandbox import Sandbox, SandboxConfig
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from tests.astorm import CountingExecutor, run_async_storm
from tests.users import user_login

SLOW = 1.0  # seconds the sandbox takes to answer a token request
N = 50


@pytest.fixture
def slow_sandbox(listener_port: int) -> Iterator[Sandbox]:
    config = SandboxConfig(redirect_uris={"databricks-cli": [f"http://localhost:{listener_port}"]}, token_delay=SLOW)
    with Sandbox(config) as sb:
        yield sb


def test_a_storm_of_coroutines_on_a_stale_token_refreshes_once_without_stalling_the_loop(
    slow_sandbox: Sandbox, listener_port: int
) -> None:
    store = TokenStore(MemoryBackend())
    first = user_login(slow_sandbox, listener_port, store)
    assert first.expiry is not None
    store.save(first.replace(expiry=first.obtained_at - timedelta(minutes=1)))  # stale: must refresh
    session.forget_memory()

    result = run_async_storm(N, slow_sandbox.url, "sql", store)
    tokens, stall = result.tokens, result.worst_stall
    assert slow_sandbox.stats.refreshes == 1
    assert result.threads_used == 1, "the coroutines must share one worker (single flight)"
    assert len({t.access_token for t in tokens}) == 1 and tokens[0].access_token != first.access_token
    assert stall < 0.1, f"the loop stalled {stall * 1000:.0f} ms; a refresh on the loop stalls ~{SLOW * 1000:.0f} ms"


def test_a_valid_token_is_served_on_the_loop_without_a_thread(sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    token = user_login(sandbox, listener_port, store)

    async def go() -> tuple[int, list[dict[str, str]]]:
        asyncio.get_running_loop().set_default_executor(CountingExecutor())
        await scopedauth.aget_token(host=sandbox.url, scopes="sql", store=store)  # resolves once (in a thread)
        before = CountingExecutor.submitted
        got = [await scopedauth.aheaders(host=sandbox.url, scopes="sql", store=store) for _ in range(20)]
        return CountingExecutor.submitted - before, got

    hops, got = asyncio.run(go())
    assert hops == 0
    assert got == [{"Authorization": f"Bearer {token.access_token}"}] * 20


def test_errors_come_back_to_the_awaiting_coroutine(sandbox: Sandbox) -> None:
    store = TokenStore(MemoryBackend())

    async def go() -> None:
        await scopedauth.aget_token(host=sandbox.url, scopes="sql", store=store)

    with pytest.raises(scopedauth.LoginRequiredError) as info:
        asyncio.run(go())
    assert info.value.command == f"scopedauth login --host {sandbox.url} --scopes sql"


def test_a_cancelled_caller_does_not_cancel_the_shared_refresh(slow_sandbox: Sandbox, listener_port: int) -> None:
    store = TokenStore(MemoryBackend())
    first = user_login(slow_sandbox, listener_port, store)
    assert first.expiry is not None
    store.save(first.replace(expiry=first.obtained_at - timedelta(minutes=1)))
    session.forget_memory()

    async def go() -> scopedauth.Token:
        impatient = asyncio.create_task(scopedauth.aget_token(host=slow_sandbox.url, scopes="sql", store=store))
        patient = asyncio.create_task(scopedauth.aget_token(host=slow_sandbox.url, scopes="sql", store=store))
        await asyncio.sleep(0.2)
        impatient.cancel()
        return await patient

    token = asyncio.run(go())
    assert token.access_token != first.access_token and slow_sandbox.stats.refreshes == 1
