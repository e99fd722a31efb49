"""A stored grant that covers the scopes asked for serves the request; an exact one wins first.

``login`` is unchanged: it stores exactly what it was asked for.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

import scopedauth
from scopedauth.config import Target
from scopedauth.grants import session
from scopedauth.sandbox import Sandbox
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from scopedauth.tokens import Token, utcnow
from tests.clitools import run
from tests.users import user_login

HOST = "https://adb-1.azuredatabricks.net"


def _grant(store: TokenStore, scopes: str, *, name: str, **changes: object) -> Token:
    target = Target(HOST, scopes=(*scopes.split(), "offline_access"))
    token = Token(
        target, access_token=f"eyJ.{name}", refresh_token=f"r.{name}", expiry=utcnow() + timedelta(hours=1)
    ).replace(**changes)
    store.save(token)
    return token


@pytest.fixture
def store() -> TokenStore:
    return TokenStore(MemoryBackend())


def test_a_covering_grant_serves_and_the_smallest_one_wins(store: TokenStore) -> None:
    _grant(store, "sql files.files dashboards.genie", name="big")
    _grant(store, "sql files.files", name="small")
    _grant(store, "files.files", name="other")
    assert scopedauth.get_token(host=HOST, scopes="sql", store=store).access_token == "eyJ.small"
    assert scopedauth.get_token(host=HOST, scopes="sql dashboards.genie", store=store).access_token == "eyJ.big"
    assert scopedauth.get_token(host=HOST, scopes=["sql"], refresh_token=False, store=store).access_token == "eyJ.small"
    with pytest.raises(scopedauth.LoginRequiredError) as info:
        scopedauth.get_token(host=HOST, scopes="serving.serving-endpoints", store=store)
    assert info.value.command == f"scopedauth login --host {HOST} --scopes serving.serving-endpoints"


def test_an_exact_grant_wins_and_a_dead_one_gives_way(store: TokenStore) -> None:
    _grant(store, "sql files.files", name="cover")
    exact = _grant(store, "sql", name="exact")
    assert scopedauth.get_token(host=HOST, scopes="sql", store=store).access_token == "eyJ.exact"
    store.save(exact.replace(needs_login=True))
    session.forget_memory()
    assert scopedauth.get_token(host=HOST, scopes="sql", store=store).access_token == "eyJ.cover"


def test_a_dead_covering_grant_never_serves(store: TokenStore) -> None:
    _grant(store, "sql files.files", name="dead", needs_login=True)
    with pytest.raises(scopedauth.LoginRequiredError):
        scopedauth.get_token(host=HOST, scopes="sql", store=store)


def test_the_sdk_strategy_accepts_a_covering_grant_and_login_stores_exactly_what_it_asked(
    sandbox: Sandbox, listener_port: int, store: TokenStore
) -> None:
    from databricks.sdk import WorkspaceClient

    wide = user_login(sandbox, listener_port, store, "sql files.files")
    w = WorkspaceClient(
        host=sandbox.url, credentials_strategy=scopedauth.credentials_strategy(scopes=["sql"], store=store)
    )
    assert w.config.oauth_token().access_token == wide.access_token
    narrow = user_login(sandbox, listener_port, store, "sql")
    assert narrow.target.scopes == ("offline_access", "sql") and sandbox.stats.code_exchanges == 2
    assert sorted(" ".join(t.scopes) for t in store.targets()) == [
        "files.files offline_access sql",
        "offline_access sql",
    ]
    assert scopedauth.get_token(host=sandbox.url, scopes="sql", store=store).access_token == narrow.access_token


def test_status_json_and_debug_say_which_grant_served() -> None:
    store = session.store_for("file")
    _grant(store, "sql files.files", name="cover")
    _grant(store, "sql files.files dashboards.genie", name="big")
    listed = json.loads(run("status", "--host", HOST, "--scopes", "sql", "-o", "json").stdout)
    assert {" ".join(e["scopes"]): e["serves"] for e in listed} == {
        "files.files offline_access sql": True,
        "dashboards.genie files.files offline_access sql": False,
    }
    plain = json.loads(run("status", "-o", "json").stdout)
    assert [e["serves"] for e in plain] == [None, None]
    fast = run("token", "--host", HOST, "--scopes", "sql")  # the hand-parsed entry, not click
    assert fast.returncode == 0 and fast.stdout.strip() == "eyJ.cover", fast.stderr
    debug = run("--debug", "token", "--host", HOST, "--scopes", "sql")
    assert debug.returncode == 0 and debug.stdout.strip() == "eyJ.cover"
    assert f"served by the grant '{HOST}|databricks-cli|files.files offline_access sql'" in debug.stderr
