"""Raw string stores under :class:`~scopedauth.store.TokenStore`: OS keyring, file, memory.

A backend is three methods (``get``, ``set``, ``delete``) over string keys, like a keyring
backend; everything token-shaped (JSON, chunking, the index) lives in :mod:`scopedauth.store`.

The keyring backend remembers which keyring class answered last time (a one-line file in the
cache dir) and instantiates it directly: ``keyring.get_keyring()`` imports and probes every
installed backend and reads entry points, which costs more than the read itself. Every keyring
call runs under a timeout so a hung or prompting Secret Service cannot hang ``scopedauth token``.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .errors import StorageError
from .paths import cache_dir, config_dir, private_dir

__all__ = ["SERVICE", "Backend", "FileBackend", "KeyringBackend", "MemoryBackend", "keyring_timeout"]

SERVICE = "scopedauth"
T = TypeVar("T")
#: value caps (characters) of keyring backends that have one; Windows stores UTF-16 in 2560 bytes
_CAPS = {"WinVaultKeyring": 1280, "WinVaultKeyring_": 1280}
_NO_KEYRING_HELP = (
    "no usable OS keyring. Choices: start/unlock one (GNOME Keyring or KWallet via Secret Service, "
    "macOS Keychain, Windows Credential Manager); pick a keyring backend with PYTHON_KEYRING_BACKEND; "
    "or store tokens in a 0600 file with --storage file (SCOPEDAUTH_STORAGE=file)"
)


class Backend(Protocol):
    """Three methods over string keys; ``max_value`` is the longest value it can hold."""

    name: str
    max_value: int | None

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> None: ...


class MemoryBackend:
    """A dict: for tests, the demo on a machine with no keyring, and CI without secrets."""

    name = "memory"

    def __init__(self, max_value: int | None = None) -> None:
        self.max_value = max_value
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        if self.max_value is not None and len(value) > self.max_value:
            raise StorageError(f"value of {len(value)} characters exceeds this backend's cap {self.max_value}")
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


class FileBackend:
    """One JSON file, 0600 in a 0700 directory, replaced atomically on every write.

    Plaintext on disk: only used when the user asks (``--storage file``).
    """

    name = "file"
    max_value = None

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "tokens.json"

    def _read(self) -> dict[str, str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise StorageError(f"{self.path} is not JSON; it was left untouched (move it away to start over)") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise StorageError(f"{self.path} is not a scopedauth token file; it was left untouched")
        return data

    def _write(self, data: dict[str, str]) -> None:
        directory = private_dir(self.path.parent)
        fd, tmp = tempfile.mkstemp(prefix=".tokens.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                os.chmod(tmp, 0o600)
                json.dump(data, fh, sort_keys=True, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StorageError(f"cannot write {self.path}: {exc.strerror}") from None

    def get(self, key: str) -> str | None:
        return self._read().get(key)

    def set(self, key: str, value: str) -> None:
        data = self._read()
        data[key] = value
        self._write(data)

    def delete(self, key: str) -> None:
        data = self._read()
        if data.pop(key, None) is not None:
            self._write(data)


def keyring_timeout() -> float:
    """Seconds a keyring call may take (``SCOPEDAUTH_KEYRING_TIMEOUT``; raise it to type a password)."""
    try:
        return max(0.1, float(os.environ.get("SCOPEDAUTH_KEYRING_TIMEOUT", "10")))
    except ValueError:
        return 10.0


def _bounded(what: str, fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` in a daemon thread; give up after ``timeout`` seconds with a StorageError."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name=f"scopedauth-keyring-{what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise StorageError(
            f"the keyring did not answer within {timeout:g}s ({what}); it may be locked and waiting for a "
            "password prompt. Unlock it, or raise SCOPEDAUTH_KEYRING_TIMEOUT"
        )
    if "error" in box:
        raise _storage_error(what, box["error"]) from None
    return box["value"]  # type: ignore[no-any-return]


def _storage_error(what: str, exc: BaseException) -> StorageError:
    if isinstance(exc, StorageError):
        return exc
    kind = type(exc).__name__
    if "Locked" in kind or "locked" in str(exc).lower():
        return StorageError(f"the keyring is locked ({what}); unlock it and try again. Nothing was changed")
    if kind == "NoKeyringError":
        return StorageError(_NO_KEYRING_HELP)
    if kind in ("PasswordSetError", "PasswordDeleteError"):
        return StorageError(f"the keyring refused to {what}: {kind}. Nothing was changed")
    return StorageError(f"the keyring failed to {what}: {kind}. Nothing was changed")


def _backend_hint_file() -> Path:
    return cache_dir() / "keyring-backend"


def _class_path(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _remembered() -> Any | None:
    """Instantiate the keyring class that served us last time, skipping keyring's discovery."""
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return None
    try:
        module, _, name = _backend_hint_file().read_text(encoding="utf-8").strip().partition(":")
        return getattr(importlib.import_module(module), name)()
    except Exception:  # any stale or broken hint just means: discover again
        return None


def _discover() -> Any:
    import keyring
    from keyring.backends import chainer, fail, null

    found = keyring.get_keyring()
    if isinstance(found, chainer.ChainerBackend):
        found = found.backends[0] if found.backends else fail.Keyring()
    if isinstance(found, (fail.Keyring, null.Keyring)):
        raise StorageError(_NO_KEYRING_HELP)
    if not os.environ.get("PYTHON_KEYRING_BACKEND"):
        try:
            hint = _backend_hint_file()
            private_dir(hint.parent)
            tmp = hint.with_suffix(f".{os.getpid()}")
            tmp.write_text(_class_path(found), encoding="utf-8")
            os.replace(tmp, hint)
        except OSError:
            pass  # only an optimisation
    return found


class KeyringBackend:
    """The OS keyring through the :mod:`keyring` package, every call bounded by a timeout."""

    def __init__(self, keyring_backend: Any = None, timeout: float | None = None) -> None:
        self._kr = keyring_backend
        self.timeout = keyring_timeout() if timeout is None else timeout

    @property
    def kr(self) -> Any:
        if self._kr is None:
            self._kr = _remembered() or _bounded("find a keyring", _discover, self.timeout)
        return self._kr

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"keyring ({_class_path(self.kr).replace(':', '.')})"

    @property
    def max_value(self) -> int | None:  # type: ignore[override]
        cap = getattr(self.kr, "scopedauth_max_value", None) or _CAPS.get(type(self.kr).__name__)
        return int(cap) if cap else None

    def get(self, key: str) -> str | None:
        kr = self.kr
        return _bounded("read", lambda: kr.get_password(SERVICE, key), self.timeout)

    def set(self, key: str, value: str) -> None:
        kr = self.kr
        _bounded("write", lambda: kr.set_password(SERVICE, key, value), self.timeout)

    def delete(self, key: str) -> None:
        kr = self.kr

        def run() -> None:
            from keyring.errors import PasswordDeleteError

            try:
                kr.delete_password(SERVICE, key)
            except PasswordDeleteError:
                pass  # already gone

        _bounded("delete", run, self.timeout)
