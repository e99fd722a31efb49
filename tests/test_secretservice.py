"""The hot-path Secret Service reader against the real daemon, and its fallbacks to keyring."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest

from scopedauth.storage import secretservice
from scopedauth.storage.backends import KeyringBackend
from tests.conftest import require_keyring


@pytest.fixture
def service() -> Iterator[str]:
    require_keyring()
    from keyring.backends.SecretService import Keyring

    name = f"scopedauth-test-{secrets.token_hex(4)}"
    yield name
    kr = Keyring()
    import secretstorage

    with secretstorage.dbus_init() as conn:  # type: ignore[no-untyped-call]
        for item in secretstorage.get_default_collection(conn).search_items({"service": name}):
            item.delete()
    del kr


def test_reads_exactly_what_keyring_wrote(service: str) -> None:
    from keyring.backends.SecretService import Keyring

    value = '{"access_token": "ünïcode ✓", "x": "' + "y" * 5000 + '"}'
    Keyring().set_password(service, "user|key with spaces", value)
    assert secretservice.read(service, "user|key with spaces", 5) == value
    assert secretservice.read(service, "absent", 5) is None


def test_several_matches_fall_back_to_keyring(service: str) -> None:
    import secretstorage
    from keyring.backends.SecretService import Keyring

    Keyring().set_password(service, "dup", "from-keyring")
    with secretstorage.dbus_init() as conn:  # type: ignore[no-untyped-call]
        secretstorage.get_default_collection(conn).create_item(
            "other app", {"service": service, "username": "dup", "application": "other"}, b"from-other"
        )
    with pytest.raises(secretservice.Unusual):
        secretservice.read(service, "dup", 5)
    backend = KeyringBackend(service=service)
    assert backend.get("dup") in ("from-keyring", "from-other")  # keyring's own answer, no error


def test_no_bus_is_unusual_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    with pytest.raises(secretservice.Unusual):
        secretservice.read("scopedauth", "k", 1)


def _modules_after_get(service: str, env: dict[str, str]) -> set[str]:
    probe = (
        "import sys\n"
        "from scopedauth.storage.backends import KeyringBackend\n"
        f"print(KeyringBackend(service={service!r}).get('k'))\n"
        "heavy = {'keyring', 'secretstorage', 'cryptography'}\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & heavy)))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env={**os.environ, **env}
    )
    assert res.returncode == 0, res.stderr
    value, modules = res.stdout.splitlines()
    assert value == "v"
    return set(filter(None, modules.split(",")))


def test_remembered_secret_service_is_read_without_keyring(service: str) -> None:
    backend = KeyringBackend(service=service)
    backend.set("k", "v")  # discovery runs once and remembers the Secret Service class
    assert _modules_after_get(service, {}) == set()


def test_keyring_properties_disable_the_direct_read(service: str) -> None:
    KeyringBackend(service=service).set("k", "v")
    assert "keyring" in _modules_after_get(service, {"KEYRING_PROPERTY_SCHEME": "default"})
