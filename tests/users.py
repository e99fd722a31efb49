"""Playing the user in tests: sign in on the sandbox consent page like a browser would.

:func:`scripted_user` is an ``opener`` for :func:`scopedauth.login`: in a thread, it runs the
same HTTP consent flow as ``tests/agents/approve.py`` (the ``$BROWSER`` script) against the real
listener. :func:`user_login` is the one-line login most tests need.
"""

from __future__ import annotations

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
