"""Fixtures for the hosted tests: keys, and every store (SQLite, PostgreSQL, Redis) fresh per test.

The PostgreSQL and Redis servers start once per session. Where they are not installed the tests
skip, unless ``SCOPEDAUTH_REQUIRE_HOSTED=1`` (CI, scripts/test.sh), which makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scopedauth.hosted.backends import open_store
from scopedauth.hosted.flaskapp import HostedAuth
from scopedauth.hosted.keys import Keyring, generate_key
from scopedauth.hosted.model import HostedStore, SessionRow
from scopedauth.sandbox import Sandbox

from ..conftest import free_port
from .servers import ServerMissingError, postgres_server, redis_server, reset_postgres
from .webapp import Served, create_app, make_auth

#: read at import: the isolated_env fixture clears SCOPEDAUTH_* variables
REQUIRE_HOSTED = os.environ.get("SCOPEDAUTH_REQUIRE_HOSTED") == "1"
STORES = ["sqlite", "postgresql", "redis"]


def _unavailable(reason: str) -> None:
    if REQUIRE_HOSTED:
        pytest.fail(f"SCOPEDAUTH_REQUIRE_HOSTED=1 but {reason}")
    pytest.skip(reason)


class Servers:
    """Starts each server on first use, at most once per session; remembers why one could not start."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._found: dict[str, str | Exception] = {}

    def url(self, kind: str) -> str:
        if kind not in self._found:
            try:
                self._found[kind] = self._stack.enter_context(
                    postgres_server() if kind == "postgresql" else redis_server()
                )
            except (ServerMissingError, RuntimeError, OSError) as exc:
                self._found[kind] = exc
        value = self._found[kind]
        if isinstance(value, Exception):
            _unavailable(str(value))
        return str(value)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with contextlib.ExitStack() as stack:
        yield Servers(stack)


@pytest.fixture
def key_spec() -> str:
    return generate_key("k1")


@pytest.fixture
def keys(key_spec: str) -> Keyring:
    return Keyring(key_spec)


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path, servers: Servers) -> str:
    """A URL of an empty, unmigrated store of the kind the test is parametrized with."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'hosted.db'}"
    url = servers.url(kind)
    if kind == "postgresql":
        reset_postgres(url)
    else:
        import redis

        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[HostedStore]:
    s = open_store(store_url, migrate=True)
    yield s
    s.close()


@pytest.fixture
def replica(sandbox: Sandbox, store: HostedStore, keys: Keyring) -> Iterator[Replica]:
    """One Flask app with HostedAuth on loopback, over the parametrized store."""
    port = free_port()
    auth = make_auth(sandbox, store, keys, port)
    served = Served(create_app(auth, sandbox.app_url), port)
    yield Replica(auth, served.url, store, keys)
    served.close()


class Replica:
    def __init__(self, auth: HostedAuth, url: str, store: HostedStore, keys: Keyring) -> None:
        self.auth, self.url, self.store, self.keys = auth, url, store, keys

    def rows(self) -> list[SessionRow]:
        return list(self.store.iter_sessions())

    def only_row(self) -> SessionRow:
        rows = self.rows()
        assert len(rows) == 1, rows
        return rows[0]
