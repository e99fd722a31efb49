"""The async storm, shared by tests/test_aio.py and benchmarks/run.py.

N coroutines await ``aget_token`` on one loop for a target whose stored token is stale, while a
ticker coroutine wakes every 10 ms and records the longest it was kept waiting beyond that: the
worst stall of the loop. The sandbox should answer token requests slowly (``token_delay``), so
that a refresh run on the loop would show as a stall of about that long.
"""

from __future__ import annotations

import asyncio
import gc
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import scopedauth
from scopedauth.storage.store import TokenStore


class CountingExecutor(ThreadPoolExecutor):
    """A loop's default executor, counting the work handed to it (asyncio.to_thread uses it)."""

    submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        CountingExecutor.submitted += 1
        return super().submit(fn, *args, **kwargs)


@dataclass
class AsyncStormResult:
    tokens: list[scopedauth.Token]
    worst_stall: float  # seconds
    threads_used: int  # work items handed to the loop's executor


async def _ticker(stop: asyncio.Event, worst: list[float]) -> None:
    last = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(0.01)
        now = time.monotonic()
        worst[0] = max(worst[0], now - last - 0.01)
        last = now


def run_async_storm(n: int, host: str, scopes: str, store: TokenStore) -> AsyncStormResult:
    """``n`` concurrent ``aget_token`` calls on a fresh loop, with the loop's stalls measured."""

    async def storm() -> AsyncStormResult:
        asyncio.get_running_loop().set_default_executor(CountingExecutor())
        CountingExecutor.submitted = 0
        stop, worst = asyncio.Event(), [0.0]
        ticker = asyncio.create_task(_ticker(stop, worst))
        await asyncio.sleep(0.05)  # the ticker is running before the storm starts
        tokens = await asyncio.gather(*(scopedauth.aget_token(host=host, scopes=scopes, store=store) for _ in range(n)))
        stop.set()
        await ticker
        return AsyncStormResult(list(tokens), worst[0], CountingExecutor.submitted)

    gc.collect()
    gc.freeze()  # a long-lived process's garbage must not make a collection during the storm look like a stall
    try:
        return asyncio.run(storm())
    finally:
        gc.unfreeze()
