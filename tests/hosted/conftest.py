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
from scopedauth.hosted.keys import Keyring, generate_key
from scopedauth.hosted.model import HostedStore

from .servers import ServerMissingError, postgres_server, redis_server, reset_postgres

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
def keys() -> Keyring:
    return Keyring(generate_key("k1"))


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
