"""Shared fixtures: an isolated environment per test, the sandbox, real stores.

Every test gets its own cache/config directories and a clean ``DATABRICKS_*`` environment so
nothing touches the developer's real keyring entries or ~/.databrickscfg. The real Secret
Service is used when a D-Bus session with an unlocked keyring is present (CI starts one);
``SCOPEDAUTH_REQUIRE_KEYRING=1`` turns its absence into a failure instead of a skip.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scopedauth.grants.cache import CACHE
from scopedauth.sandbox import Sandbox, SandboxConfig
from scopedauth.storage.backends import FileBackend, KeyringBackend, MemoryBackend
from scopedauth.storage.store import TokenStore

TESTS = Path(__file__).parent
#: read before isolated_env clears every SCOPEDAUTH_* variable
REQUIRE_KEYRING = os.environ.get("SCOPEDAUTH_REQUIRE_KEYRING") == "1"
#: the keyring service every test (and every CLI it starts) writes under; purged after the run
KEYRING_SERVICE = f"scopedauth-test-{secrets.token_hex(4)}"


def purge_keyring_service(service: str) -> None:
    """Delete every Secret Service item of ``service`` (best effort: no keyring, nothing to do)."""
    try:
        import secretstorage

        with secretstorage.dbus_init() as conn:  # type: ignore[no-untyped-call]
            for item in secretstorage.get_default_collection(conn).search_items({"service": service}):
                item.delete()
    except Exception:  # noqa: S110 - cleanup must never fail a run
        pass


@pytest.fixture(scope="session", autouse=True)
def _purge_test_keyring_entries() -> Iterator[None]:
    yield
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        purge_keyring_service(KEYRING_SERVICE)


APPROVE = TESTS / "agents" / "approve.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "SCOPEDAUTH_", "ARM_")) or name in (
            "BROWSER",
            "GOOGLE_CREDENTIALS",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SCOPEDAUTH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SCOPEDAUTH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "databrickscfg"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("SCOPEDAUTH_KEYRING_SERVICE", KEYRING_SERVICE)
    CACHE.reset()
    yield tmp_path
    CACHE.reset()


def keyring_available() -> str | None:
    """None when a real Secret Service answers, else why not."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return "no D-Bus session (DBUS_SESSION_BUS_ADDRESS unset)"
    try:
        from keyring.backends.SecretService import Keyring

        kr = Keyring()
        probe = f"probe-{secrets.token_hex(4)}"
        kr.set_password("scopedauth-test", probe, "x")
        kr.delete_password("scopedauth-test", probe)
    except Exception as exc:
        return f"Secret Service unusable: {type(exc).__name__}: {exc}"
    return None


def require_keyring() -> None:
    why = keyring_available()
    if why is None:
        return
    if REQUIRE_KEYRING:
        pytest.fail(f"real keyring required but {why}")
    pytest.skip(why)


@pytest.fixture
def secret_service_backend() -> Iterator[KeyringBackend]:
    """The real Secret Service under a per-test service name, purged afterwards."""
    require_keyring()
    from keyring.backends.SecretService import Keyring

    service = f"scopedauth-test-{secrets.token_hex(4)}"
    yield KeyringBackend(Keyring(), service=service)
    purge_keyring_service(service)


@pytest.fixture(params=["memory", "file", "secret-service"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> TokenStore:
    """Each real store kind; the contract suites run against all of them."""
    if request.param == "memory":
        return TokenStore(MemoryBackend())
    if request.param == "file":
        return TokenStore(FileBackend(tmp_path / "config" / "tokens.json"))
    request.getfixturevalue("secret_service_backend")
    return TokenStore(request.getfixturevalue("secret_service_backend"))


@pytest.fixture
def listener_port() -> int:
    """A free port for a login listener, below the kernel's ephemeral range.

    A port from ``bind(0)`` is an ephemeral one: between the fixture and the listener's bind,
    any outgoing connection of the test (to the sandbox, to D-Bus) may be given the same port,
    and the login then fails as "busy". Ports below the ephemeral range are never handed out
    that way.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return free_port()
    for _ in range(200):
        port = random.randint(max(1024, low - 12000), low - 1)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


@pytest.fixture
def sandbox(listener_port: int) -> Iterator[Sandbox]:
    """A sandbox whose databricks-cli client accepts http://localhost:<listener_port>."""
    config = SandboxConfig(redirect_uris={"databricks-cli": [f"http://localhost:{listener_port}"]})
    with Sandbox(config) as sb:
        yield sb


@pytest.fixture
def browser_script(tmp_path: Path) -> str:
    """A $BROWSER value that approves the consent page over real HTTP."""
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{APPROVE}" "$1"\n')
    script.chmod(0o755)
    return f"{script} %s"
