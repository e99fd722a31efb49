"""KeyringBackend: timeouts, locked and refusing keyrings, no keyring at all, and the remembered
keyring class that lets ``scopedauth token`` skip keyring's discovery.

Failure modes use the dict-backed keyrings of ``tests.keyring_backends`` (real KeyringBackend
subclasses); discovery and the remembered class use the real Secret Service.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import keyring.core
import pytest

from scopedauth.errors import StorageError
from scopedauth.storage.backends import KeyringBackend, keyring_timeout
from scopedauth.storage.store import TokenStore, open_store
from tests.conftest import require_keyring
from tests.keyring_backends import (
    BrokenKeyring,
    CappedKeyring,
    DictKeyring,
    LockedKeyring,
    RefusingKeyring,
    SlowKeyring,
)
from tests.test_store_contract import make_target, make_token, purge_service

ROOT = Path(__file__).resolve().parent.parent
SECRET_SERVICE = "keyring.backends.SecretService:Keyring"


@pytest.fixture(autouse=True)
def no_keyring_choice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No PYTHON_KEYRING_BACKEND from the developer's shell; keyring's global choice restored."""
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    saved = keyring.core._keyring_backend
    yield
    keyring.core._keyring_backend = saved


@pytest.fixture
def service() -> Iterator[str]:
    """A private Secret Service service name, purged afterwards."""
    name = f"scopedauth-test-{secrets.token_hex(6)}"
    yield name
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        with contextlib.suppress(Exception):  # no Secret Service: nothing was written there
            purge_service(name)


def hint_file(env: Path) -> Path:
    return env / "cache" / f"user-{os.getuid()}" / "keyring-backend"


# -- failure modes ---------------------------------------------------------------------------


def test_max_value_comes_from_the_keyring_object(monkeypatch: pytest.MonkeyPatch) -> None:
    assert KeyringBackend(CappedKeyring()).max_value == CappedKeyring.scopedauth_max_value == 1280
    assert KeyringBackend(DictKeyring()).max_value is None
    monkeypatch.setenv("KEYRING_PROPERTY_SCOPEDAUTH_MAX_VALUE", "700")  # keyring's own per-backend properties
    assert KeyringBackend(DictKeyring()).max_value == 700
    monkeypatch.setenv("KEYRING_PROPERTY_SCOPEDAUTH_MAX_VALUE", "lots")
    assert KeyringBackend(DictKeyring()).max_value is None


def test_a_hung_keyring_times_out() -> None:
    slow = SlowKeyring(delay=10)
    backend = KeyringBackend(slow, timeout=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(StorageError, match=r"did not answer within 0\.3s") as info:
            backend.get("some|key|sql")
        elapsed = time.monotonic() - started
    finally:
        slow.release.set()
    assert 0.25 <= elapsed < 1.0
    assert "SCOPEDAUTH_KEYRING_TIMEOUT" in str(info.value)


def test_the_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOPEDAUTH_KEYRING_TIMEOUT", "0.3")
    slow = SlowKeyring(delay=10)
    store = TokenStore(KeyringBackend(slow))
    started = time.monotonic()
    try:
        with pytest.raises(StorageError, match=r"within 0\.3s"):
            store.load(make_target())
        assert time.monotonic() - started < 1.0
    finally:
        slow.release.set()


@pytest.mark.parametrize(
    ("value", "expected"), [("2.5", 2.5), ("0", 0.1), ("-3", 0.1), ("soon", 10.0), ("nan", 10.0), ("inf", 86400.0)]
)
def test_timeout_values(monkeypatch: pytest.MonkeyPatch, value: str, expected: float) -> None:
    monkeypatch.setenv("SCOPEDAUTH_KEYRING_TIMEOUT", value)
    assert keyring_timeout() == expected


def test_a_locked_keyring_says_so() -> None:
    target = make_target()
    token = make_token(target)
    store = TokenStore(KeyringBackend(LockedKeyring()))
    for action in (lambda: store.load(target), lambda: store.save(token), lambda: store.delete(target)):
        with pytest.raises(StorageError, match="locked") as info:
            action()
        assert "unlock" in str(info.value)
        assert token.access_token not in str(info.value)


def test_a_refused_write_keeps_the_old_value() -> None:
    kr = RefusingKeyring()
    backend = KeyringBackend(kr)
    target = make_target()
    old, new = make_token(target), make_token(target)
    TokenStore(backend).save(old)
    kr.refuse_set = True
    with pytest.raises(StorageError, match="refused") as info:
        TokenStore(backend).save(new)
    message = str(info.value)
    assert new.access_token not in message
    assert new.refresh_token is not None and new.refresh_token not in message
    assert TokenStore(backend).load(target) == old


def test_a_refused_delete_is_an_error_but_a_missing_entry_is_not() -> None:
    kr = RefusingKeyring()
    backend = KeyringBackend(kr)
    target = make_target()
    token = make_token(target)
    store = TokenStore(backend)
    assert store.delete(target) is False  # PasswordDeleteError "No such password" = already gone
    backend.delete("never-stored")
    store.save(token)
    kr.refuse_delete = True
    with pytest.raises(StorageError, match="refused to delete"):
        store.delete(target)
    assert TokenStore(backend).load(target) == token


@pytest.mark.parametrize("choice", ["keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"])
def test_no_usable_keyring_names_the_choices(monkeypatch: pytest.MonkeyPatch, isolated_env: Path, choice: str) -> None:
    # keyring caches its first answer per process; the variable must still win
    keyring.core.set_keyring(DictKeyring())
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", choice)
    target = make_target()
    for attempt in (lambda: KeyringBackend().get("k"), lambda: open_store("keyring").load(target)):
        with pytest.raises(StorageError) as info:
            attempt()
        message = str(info.value)
        assert "--storage file" in message
        assert "PYTHON_KEYRING_BACKEND" in message
        assert "unlock" in message
    assert not hint_file(isolated_env).exists()


def test_no_keyring_points_at_an_existing_file_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual cause of "no keyring" after a login: it was done with --storage file."""
    from scopedauth.storage.backends import FileBackend

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with pytest.raises(StorageError) as before:
        KeyringBackend().get("k")
    assert "A file store exists" not in str(before.value)
    FileBackend().set("k", "v")
    with pytest.raises(StorageError) as after:
        KeyringBackend().get("k")
    assert f"A file store exists at {FileBackend().path}: add --storage file" in str(after.value)


def test_an_unloadable_keyring_choice_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no_such_package.Keyring")
    with pytest.raises(StorageError, match=r"PYTHON_KEYRING_BACKEND=no_such_package\.Keyring cannot be used") as info:
        KeyringBackend().get("k")
    assert "--storage file" in str(info.value)


def test_an_explicit_choice_is_honoured_over_a_remembered_one(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    hint = hint_file(isolated_env)
    hint.parent.mkdir(parents=True)
    hint.write_text("tests.keyring_backends:DictKeyring")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    with pytest.raises(StorageError, match="no usable OS keyring"):
        KeyringBackend().get("k")


# -- the remembered keyring class (real Secret Service) -------------------------------------


def test_first_discovery_remembers_the_class(isolated_env: Path, service: str) -> None:
    require_keyring()
    keyring.core._keyring_backend = None  # a process that has not discovered yet
    backend = KeyringBackend(service=service)
    assert backend.get("nothing-here") is None
    assert hint_file(isolated_env).read_text() == SECRET_SERVICE
    assert backend.name == "keyring (keyring.backends.SecretService.Keyring)"


_PROBE = textwrap.dedent(
    """
    import sys
    import keyring
    import keyring.core

    calls = []
    real = keyring.core.get_keyring

    def counting():
        calls.append(1)
        return real()

    keyring.get_keyring = keyring.core.get_keyring = counting
    from scopedauth.storage.backends import KeyringBackend

    backend = KeyringBackend(service=sys.argv[1])
    backend.set("probe", "value")
    assert backend.get("probe") == "value"
    backend.delete("probe")
    assert backend.get("probe") is None
    print(len(calls), keyring.core._keyring_backend is None, type(backend.kr).__module__)
    """
)


def run_probe(service: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, service], capture_output=True, text=True, timeout=30, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_fresh_process_uses_the_remembered_class_without_discovery(isolated_env: Path, service: str) -> None:
    require_keyring()
    hint = hint_file(isolated_env)
    # no hint yet: keyring's discovery runs once and the class is written down
    assert run_probe(service) == ["1", "False", "keyring.backends.SecretService"]
    assert hint.read_text() == SECRET_SERVICE
    # with the hint: no discovery at all, keyring's global backend never initialised
    assert run_probe(service) == ["0", "True", "keyring.backends.SecretService"]


@pytest.mark.parametrize(
    "hint",
    [
        "no.such.module:Keyring",  # uninstalled
        "keyring.backends.SecretService:NoSuchClass",  # renamed
        "os:getcwd",  # not a class
        "tests.keyring_backends:WINDOWS_BLOB_BYTES",  # not a class either
        "pathlib:Path",  # a class, not a keyring
        "keyring.backends.fail:Keyring",  # a keyring that stores nothing
        "keyring.backends.chainer:ChainerBackend",
        "tests.keyring_backends:BrokenKeyring",  # imports and instantiates, fails when used
        "garbage without a colon",
        "",
    ],
)
def test_a_stale_or_broken_hint_falls_back_to_discovery(isolated_env: Path, service: str, hint: str) -> None:
    require_keyring()
    path = hint_file(isolated_env)
    path.parent.mkdir(parents=True)
    path.write_text(hint)
    keyring.core._keyring_backend = None  # as in a fresh process
    backend = KeyringBackend(service=service)
    backend.set("probe", "value")
    assert backend.get("probe") == "value"
    assert type(backend.kr).__module__ == "keyring.backends.SecretService"
    assert path.read_text() == SECRET_SERVICE


def test_a_broken_remembered_keyring_is_really_tried_first(isolated_env: Path) -> None:
    """Guards the test above: the broken class is instantiated from the hint, then abandoned."""
    path = hint_file(isolated_env)
    path.parent.mkdir(parents=True)
    path.write_text("tests.keyring_backends:BrokenKeyring")
    backend = KeyringBackend()
    assert isinstance(backend.kr, BrokenKeyring)
    assert backend.name == "keyring (tests.keyring_backends.BrokenKeyring)"
