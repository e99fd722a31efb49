"""Nothing secret at rest: the SQLite file, a pg_dump and the Redis values hold no token.

Secrets searched for: every access and refresh token the sandbox ever issued to the app
(before and after a refresh), the session and pre-login cookie values, ``state`` and the client
secret.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from scopedauth.sandbox import Sandbox

from .conftest import STORES, Replica
from .servers import pg_dump, redis_values
from .webapp import CLIENT_SECRET, Browser, age_session

pytestmark = pytest.mark.parametrize("store_url", STORES, indirect=True)


def dump(store_url: str) -> str:
    if store_url.startswith("sqlite"):
        db = Path(store_url.removeprefix("sqlite:///"))
        return "".join(p.read_bytes().decode("latin-1") for p in db.parent.glob(db.name + "*"))
    if store_url.startswith("postgresql"):
        return pg_dump(store_url)
    return redis_values(store_url)


def test_no_token_at_rest(replica: Replica, sandbox: Sandbox, store_url: str) -> None:
    browser = Browser()
    started = browser.get(replica.url + "/auth/login", allow_redirects=False)
    login_cookie = browser.cookies["scopedauth-login"]
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    pending = dump(store_url)  # the attempt row: state and verifier
    browser.get(sandbox.approve_url(started.headers["Location"]), allow_redirects=False)
    age_session(replica.store, replica.keys, replica.only_row(), 10)
    assert browser.get(replica.url + "/api/call").status_code == 200  # refreshed: two generations of tokens
    browser.get(
        sandbox.approve_url(browser.get(replica.url + "/auth/login", allow_redirects=False).headers["Location"])
    )
    secrets = [
        *sandbox._store._access,
        *sandbox._store._refresh,
        browser.cookies["scopedauth-session"],
        login_cookie,
        state,
        CLIENT_SECRET,
    ]
    assert len(secrets) >= 7  # two logins and a refresh: 3 access + 3 refresh tokens, cookies
    at_rest = dump(store_url) + pending
    assert sandbox.config.user in at_rest  # the dump is real: it holds the rows
    leaked = [s[:6] for s in secrets if s in at_rest]
    assert leaked == []
