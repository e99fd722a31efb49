"""Cross-process locks: one per target around read → refresh → write, one for the index.

filelock uses ``flock``/``LockFileEx``, which the kernel releases when the holder dies, even by
SIGKILL, so a crashed process never blocks the next one. The lock files live in the cache dir
and are named by a hash of the target key (no host names or scopes on disk).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StorageError
from .paths import cache_dir, private_dir

__all__ = ["index_lock", "lock_path", "target_lock"]


def lock_path(key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_dir() / "locks" / f"{digest}.lock"


def _timeout() -> float:
    try:
        return float(os.environ.get("SCOPEDAUTH_LOCK_TIMEOUT", "120"))
    except ValueError:
        return 120.0


@contextmanager
def _hold(path: Path, what: str, timeout: float) -> Iterator[None]:
    from filelock import FileLock, Timeout

    private_dir(path.parent)
    lock = FileLock(str(path), mode=0o600)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise StorageError(
            f"another scopedauth process has held the {what} lock for {timeout:g}s "
            f"(an interactive login?); finish or cancel it, or delete {path}"
        ) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def target_lock(key: str, timeout: float | None = None) -> Iterator[None]:
    """Single flight for one target: refresh and interactive login."""
    with _hold(lock_path(key), "login/refresh", _timeout() if timeout is None else timeout):
        yield


@contextmanager
def index_lock() -> Iterator[None]:
    with _hold(cache_dir() / "locks" / "index.lock", "index", 30.0):
        yield
