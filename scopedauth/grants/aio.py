"""``aget_token`` and ``aheaders``: the ladder for asyncio programs, never blocking the loop.

A valid token this process already holds is answered on the loop itself (a few dictionary
lookups, no thread hop). Everything else (the keyring read, the file lock, the refresh, an
interactive login) runs in a worker thread through :func:`asyncio.to_thread`, so the loop keeps
serving other coroutines meanwhile.

Single flight within a process: concurrent awaits of the same call on one loop share one
worker (and so one refresh); across threads and processes the target's file lock does the same,
exactly as for :func:`~scopedauth.grants.session.get_token`. A caller that is cancelled stops
waiting, but the shared work runs on for the others (it is shielded), so a refresh is never
abandoned between the server rotating the refresh token and the store saving it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import StorageKind, Target, TargetOptions
from ..tokens import Token
from . import session
from .session import Say

if TYPE_CHECKING:
    from typing import Unpack

    from ..storage.store import TokenStore

__all__ = ["aget_token", "aheaders", "arenew"]

#: the work in flight per (loop, call): what concurrent awaits of the same call share
_FLIGHTS: dict[tuple[asyncio.AbstractEventLoop, object], asyncio.Future[Token]] = {}


def _call_key(kind: str, target: Target | None, store: object, options: TargetOptions, extra: object = None) -> object:
    opts = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items())
    return (kind, target, store if isinstance(store, (str, type(None))) else id(store), opts, extra)


async def _single_flight(key: object, work: Callable[[], Token]) -> Token:
    loop = asyncio.get_running_loop()
    slot = (loop, key)
    flight = _FLIGHTS.get(slot)
    if flight is None:
        flight = _FLIGHTS[slot] = asyncio.ensure_future(asyncio.to_thread(work))
        flight.add_done_callback(lambda _done: _FLIGHTS.pop(slot, None))
    return await asyncio.shield(flight)


async def aget_token(
    target: Target | None = None,
    *,
    store: TokenStore | StorageKind | None = None,
    interactive: bool = False,
    say: Say | None = None,
    login_options: dict[str, Any] | None = None,
    **options: Unpack[TargetOptions],
) -> Token:
    """:func:`scopedauth.get_token` for coroutines: same arguments, same answers and errors."""
    hit = session.from_memory(target, store, options)
    if hit is not None:
        return hit

    def work() -> Token:
        return session.get_token(
            target, store=store, interactive=interactive, say=say, login_options=login_options, **options
        )

    return await _single_flight(_call_key("get", target, store, options), work)


async def aheaders(
    target: Target | None = None,
    *,
    store: TokenStore | StorageKind | None = None,
    interactive: bool = False,
    say: Say | None = None,
    login_options: dict[str, Any] | None = None,
    **options: Unpack[TargetOptions],
) -> dict[str, str]:
    """``{"Authorization": "Bearer …"}``; the arguments are :func:`aget_token`'s."""
    token = await aget_token(
        target, store=store, interactive=interactive, say=say, login_options=login_options, **options
    )
    return {"Authorization": f"Bearer {token.access_token}"}


async def arenew(
    target: Target | None = None,
    *,
    rejected: str | None = None,
    store: TokenStore | StorageKind | None = None,
    **options: Unpack[TargetOptions],
) -> Token:
    """:func:`~scopedauth.grants.session.renew` off the loop; concurrent 401s on one token share it."""

    def work() -> Token:
        return session.renew(target, rejected=rejected, store=store, **options)

    return await _single_flight(_call_key("renew", target, store, options, rejected), work)
