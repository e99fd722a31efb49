"""Cross-process locks: one per target around read → refresh → write, one for the index.

filelock uses ``flock``/``LockFileEx``, which the kernel releases when the holder dies, even by
SIGKILL, so a crashed process never blocks the next one. The lock files live in the cache dir
and are named by a hash of the target key (no host names or scopes on disk). Each acquisition
opens its own descriptor, so two threads of one process exclude each other as two processes do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StorageError
from ..paths import cache_dir, env_seconds, private_dir

__all__ = ["index_lock", "lock_path", "path_lock", "target_lock"]

_DEFAULT_TIMEOUT = 120.0
_SHORT_TIMEOUT = 30.0


def lock_path(key: str) -> Path:
    import hashlib  # only when a lock is taken: OpenSSL's load is not paid by a cache hit

    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_dir() / "locks" / f"{digest}.lock"


def _timeout() -> float:
    """``SCOPEDAUTH_LOCK_TIMEOUT`` seconds (default 120)."""
    return env_seconds("SCOPEDAUTH_LOCK_TIMEOUT", _DEFAULT_TIMEOUT)


@contextmanager
def _hold(path: Path, what: str, timeout: float) -> Iterator[None]:
    from filelock import FileLock, Timeout

    timeout = max(0.0, timeout)  # filelock reads a negative timeout as "wait forever"
    deadline = time.monotonic() + timeout
    try:
        private_dir(path.parent)
        while True:
            lock = FileLock(str(path), mode=0o600)
            lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
            if _still_linked(lock, path):
                break
            lock.release()  # logout unlinked the file we waited on: lock the current one instead
    except Timeout:
        raise StorageError(
            f"another scopedauth process has held the {what} lock for {timeout:g}s "
            "(an interactive login?); finish or cancel it, or raise SCOPEDAUTH_LOCK_TIMEOUT"
        ) from None
    except OSError as exc:
        raise StorageError(f"cannot take the {what} lock {path}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


def _still_linked(lock: object, path: Path) -> bool:
    """Whether the locked descriptor is still the file at ``path`` (logout may have removed it)."""
    fd = getattr(getattr(lock, "_context", None), "lock_file_fd", None)
    if not isinstance(fd, int):
        return True  # filelock internals changed: no check rather than no lock
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


@contextmanager
def target_lock(key: str, timeout: float | None = None) -> Iterator[None]:
    """Single flight for one target: refresh and interactive login."""
    with _hold(lock_path(key), "login/refresh", _timeout() if timeout is None else timeout):
        yield


@contextmanager
def index_lock() -> Iterator[None]:
    with _hold(cache_dir() / "locks" / "index.lock", "index", _SHORT_TIMEOUT):
        yield


@contextmanager
def path_lock(path: Path, timeout: float = _SHORT_TIMEOUT) -> Iterator[None]:
    """Exclusive read-modify-write of one file (the file store): ``<path>.lock`` beside it."""
    with _hold(path.with_name(path.name + ".lock"), f"{path.name} file", timeout):
        yield
