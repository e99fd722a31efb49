"""Playing the user in tests: sign in on the sandbox consent page like a browser would.

:func:`scripted_user` is an ``opener`` for :func:`scopedauth.login`: in a thread, it runs the
same HTTP consent flow as ``tests/agents/approve.py`` (the ``$BROWSER`` script) against the real
listener. :func:`user_login` is the one-line login most tests need; :func:`pasted_login` is the
same login without a listener, for tests that only need a signed-in user, many times over.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import scopedauth
from scopedauth.sandbox import Sandbox
from scopedauth.storage.store import TokenStore
from tests.agents.approve import sign_in


def scripted_user(
    pages: list[str], decision: str = "allow", before: Callable[[str], None] | None = None
) -> Callable[[str], bool]:
    """An opener: in a thread, sign in on the consent page and follow the redirect."""

    def open_(url: str) -> bool:
        def run() -> None:
            if before:
                before(url)
            status, text = sign_in(url, decision)
            pages.append(f"{status}\n{text}")

        threading.Thread(target=run, daemon=True).start()
        return True

    return open_


def user_login(
    sb: Sandbox, port: int, store: TokenStore | str, scopes: str = "sql", **options: Any
) -> scopedauth.Token:
    """A real login as the sandbox's demo user, clicking Allow; ``options`` go to :func:`scopedauth.login`."""
    return scopedauth.login(
        host=sb.url,
        scopes=scopes,
        store=store,
        port=port,
        opener=scripted_user([]),
        timeout=30,
        say=lambda _m: None,
        **options,
    )


def pasted_login(sb: Sandbox, port: int, store: TokenStore | str, scopes: str = "sql") -> scopedauth.Token:
    """A real login in ``--paste`` mode: Allow is pressed in-process and the redirect pasted back.

    No listener and no browser thread, so it costs a fraction of :func:`user_login`; the code
    exchange and the stored record are the same.
    """
    said: list[str] = []

    def paste(_prompt: str) -> str:
        url = re.search(r"https?://\S+/v1/authorize\?\S+", "\n".join(said))
        assert url, said
        return sb.approve_url(url.group(0))

    return scopedauth.login(
        host=sb.url, scopes=scopes, store=store, port=port, mode="paste", read_line=paste, say=said.append
    )
