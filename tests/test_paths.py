"""Directory modes: scopedauth keeps its own directories 0700 and leaves the user's alone.

A directory named by ``SCOPEDAUTH_CONFIG_DIR`` or ``SCOPEDAUTH_CACHE_DIR`` that already exists may
be shared (``/tmp`` is 1777): its mode is the user's business, and the files scopedauth puts in
it are private on their own (the token file 0600, lock files 0600 in a ``locks`` directory of
ours). What scopedauth creates, it creates 0700 whatever the umask. Real files, real stores,
real locks.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from scopedauth.config import Target
from scopedauth.paths import is_env_name, private_dir
from scopedauth.storage.locks import lock_path, target_lock
from scopedauth.storage.store import open_store
from scopedauth.tokens import Token, utcnow


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_0() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


def save_one() -> Path:
    """Store a record with the file store; the token file's path."""
    store = open_store("file")
    target = Target("https://h.cloud.databricks.com", scopes=("sql",))
    store.save(
        Token(
            target=target,
            access_token="at",
            token_type="Bearer",
            expiry=None,
            refresh_token=None,
            granted_scopes=("sql",),
            token_endpoint="",
            obtained_at=utcnow(),
        )
    )
    return store.backend.path  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("before", [0o1777, 0o755, 0o750])
def test_named_directories_that_exist_keep_their_mode(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, umask_0: None, before: int
) -> None:
    shared = isolated_env / "shared"
    shared.mkdir()
    shared.chmod(before)
    monkeypatch.setenv("SCOPEDAUTH_CONFIG_DIR", str(shared))
    monkeypatch.setenv("SCOPEDAUTH_CACHE_DIR", str(shared))
    path = save_one()
    with target_lock("k"):
        pass
    assert path == shared / "tokens.json"
    assert mode(shared) == before  # neither tightened nor loosened
    assert mode(path) == 0o600
    assert mode(shared / f"user-{os.getuid()}") == 0o700  # ours: one per user (tests/test_local_files.py)
    assert mode(shared / f"user-{os.getuid()}" / "locks") == 0o700
    assert mode(lock_path("k")) == 0o600


def test_named_directories_that_do_not_exist_are_created_private(isolated_env: Path, umask_0: None) -> None:
    config, cache = isolated_env / "config", isolated_env / "cache"  # from the isolated_env fixture
    assert not config.exists() and not cache.exists()
    path = save_one()
    assert (mode(config), mode(path), mode(cache / f"user-{os.getuid()}" / "locks")) == (0o700, 0o600, 0o700)


def test_scopedauths_own_directories_are_tightened(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOPEDAUTH_CACHE_DIR", str(isolated_env / "named"))
    locks = isolated_env / "named" / f"user-{os.getuid()}" / "locks"
    locks.mkdir(parents=True, mode=0o755)
    locks.chmod(0o755)
    (isolated_env / "named").chmod(0o755)
    with target_lock("k"):
        pass
    assert mode(locks) == 0o700  # below the named directory: ours
    assert mode(isolated_env / "named") == 0o755  # the named directory itself: the user's

    monkeypatch.delenv("SCOPEDAUTH_CACHE_DIR")  # the default <cache>/scopedauth is ours even if it was there
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated_env / "xdg"))
    own = isolated_env / "xdg" / "scopedauth"
    own.mkdir(parents=True)
    own.chmod(0o755)
    (isolated_env / "xdg").chmod(0o755)
    assert private_dir(own) == own and mode(own) == 0o700
    assert mode(isolated_env / "xdg") == 0o755  # a parent is never touched


def test_a_caller_chosen_existing_directory_is_left_alone(isolated_env: Path) -> None:
    elsewhere = isolated_env / "mine"
    elsewhere.mkdir()
    elsewhere.chmod(0o751)
    private_dir(elsewhere)
    assert mode(elsewhere) == 0o751
    private_dir(elsewhere / "new")
    assert mode(elsewhere / "new") == 0o700


@pytest.mark.parametrize(
    ("name", "ok"), [("SP_SECRET", True), ("_x1", True), ("1X", False), ("$X", False), ("A-B", False), ("", False)]
)
def test_is_env_name(name: str, ok: bool) -> None:
    assert is_env_name(name) is ok
