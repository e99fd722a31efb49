"""Raw string stores under :class:`~scopedauth.storage.store.TokenStore`: OS keyring, file, memory.

A backend is three methods (``get``, ``set``, ``delete``) over string keys, like a keyring backend
(plus ``list_keys`` where the store can be listed: None where it cannot); everything token-shaped
(JSON, chunking, the index) lives in :mod:`scopedauth.storage.store`.

The keyring backend remembers which keyring class answered last time (a one-line file in the
cache dir) and instantiates it directly: ``keyring.get_keyring()`` imports and probes every
installed backend and reads entry points, which costs more than the read itself. Every keyring
call runs under a timeout so a hung or prompting Secret Service cannot hang ``scopedauth token``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..errors import ConfigError, StorageError
from ..paths import cache_dir, config_dir, env_seconds, own_directory, private_dir
from .locks import path_lock

__all__ = [
    "SERVICE",
    "Backend",
    "FileBackend",
    "KeyringBackend",
    "MemoryBackend",
    "keyring_timeout",
    "value_length",
]

SERVICE = "scopedauth"
_SECRET_SERVICE = "keyring.backends.SecretService:Keyring"
T = TypeVar("T")
#: value caps (UTF-16 code units) of keyring backends that have one; Windows: 2560 bytes of UTF-16
_CAPS = {"WinVaultKeyring": 1280}
_DEFAULT_TIMEOUT = 10.0
_NO_KEYRING_HELP = (
    "no usable OS keyring. Choices: start/unlock one (GNOME Keyring or KWallet via Secret Service, "
    "macOS Keychain, Windows Credential Manager); pick a keyring backend with PYTHON_KEYRING_BACKEND; "
    "or store tokens in a 0600 file with --storage file (SCOPEDAUTH_STORAGE=file)"
)


class Backend(Protocol):
    """Three methods over string keys; ``max_value`` is the longest value it can hold.

    ``max_value`` counts UTF-16 code units (see :func:`value_length`), the unit of the one
    capped keyring there is (Windows Credential Manager: 2560 bytes of UTF-16 = 1280 units).
    """

    @property
    def name(self) -> str: ...
    @property
    def max_value(self) -> int | None: ...

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> None: ...


def value_length(value: str) -> int:
    """Length as capped keyrings count it: UTF-16 code units (characters, for ASCII)."""
    if value.isascii():
        return len(value)
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


class MemoryBackend:
    """A dict: for tests, the demo on a machine with no keyring, and CI without secrets."""

    name = "memory"

    def __init__(self, max_value: int | None = None) -> None:
        self.max_value = max_value
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        if self.max_value is not None and value_length(value) > self.max_value:
            raise StorageError(f"a value of {value_length(value)} units exceeds this backend's cap {self.max_value}")
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def list_keys(self) -> list[str]:
        return list(self.data)


class FileBackend:
    """One JSON file, 0600 in a 0700 directory, replaced atomically on every write.

    Readers never see a partial file (``os.replace``); writers take ``<file>.lock`` around
    read-modify-write, because two processes refreshing two different targets would otherwise
    each write back the other's stale record (and a rotated refresh token would be lost).
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
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise StorageError(f"cannot read {self.path}: {why}; it was left untouched") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise StorageError(f"{self.path} is not JSON; it was left untouched (move it away to start over)") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise StorageError(f"{self.path} is not a scopedauth token file; it was left untouched")
        return data

    def _write(self, data: dict[str, str]) -> None:
        tmp: str | None = None
        try:
            directory = private_dir(self.path.parent)
            import tempfile  # not on the hot path: only the file store writes

            fd, tmp = tempfile.mkstemp(prefix=".tokens.", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                os.chmod(tmp, 0o600)
                json.dump(data, fh, sort_keys=True, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise StorageError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def get(self, key: str) -> str | None:
        return self._read().get(key)

    def set(self, key: str, value: str) -> None:
        with path_lock(self.path):
            data = self._read()
            if data.get(key) == value:
                return
            data[key] = value
            self._write(data)

    def delete(self, key: str) -> None:
        with path_lock(self.path):
            data = self._read()
            if data.pop(key, None) is not None:
                self._write(data)

    def list_keys(self) -> list[str]:
        return list(self._read())


def _no_keyring_help() -> str:
    """The choices, plus the file store when one exists: the usual cause is a forgotten --storage file."""
    existing = FileBackend().path
    if existing.exists():
        return f"{_NO_KEYRING_HELP}. A file store exists at {existing}: add --storage file to use it"
    return _NO_KEYRING_HELP


def keyring_timeout() -> float:
    """Seconds a keyring call may take (``SCOPEDAUTH_KEYRING_TIMEOUT``; raise it to type a password)."""
    return env_seconds("SCOPEDAUTH_KEYRING_TIMEOUT", _DEFAULT_TIMEOUT, minimum=0.1)


class _KeyringFailedError(StorageError):
    """The keyring raised something other than locked/refused: maybe the wrong keyring here."""


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
    """A message from the exception's type only: keyring messages may quote what was stored."""
    if isinstance(exc, StorageError):
        return exc
    kind = type(exc).__name__
    if "Locked" in kind or "locked" in str(exc).lower():
        return StorageError(f"the keyring is locked ({what}); unlock it and try again. Nothing was changed")
    if kind == "NoKeyringError":
        return StorageError(_no_keyring_help())
    if kind in ("PasswordSetError", "PasswordDeleteError"):
        return StorageError(f"the keyring refused to {what}: {kind}. Nothing was changed")
    return _KeyringFailedError(f"the keyring failed to {what}: {kind}. Nothing was changed")


def _backend_hint_file() -> Path:
    return cache_dir() / "keyring-backend"


def _class_path(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _usable_class(cls: object) -> bool:
    from keyring.backend import KeyringBackend as Base
    from keyring.backends import chainer, fail, null

    return (
        isinstance(cls, type)
        and issubclass(cls, Base)
        and not issubclass(cls, (fail.Keyring, null.Keyring, chainer.ChainerBackend))
    )


def _remembered() -> Any | None:
    """Instantiate the keyring class that served us last time, skipping keyring's discovery."""
    if os.environ.get("PYTHON_KEYRING_BACKEND") or not own_directory(cache_dir()):  # not another user's hint
        return None
    try:
        module, _, name = _backend_hint_file().read_text(encoding="utf-8").strip().partition(":")
        cls = getattr(importlib.import_module(module), name)
        return cls() if _usable_class(cls) else None
    except Exception:  # any stale or broken hint just means: discover again
        return None


def _forget_hint() -> None:
    with contextlib.suppress(OSError):
        _backend_hint_file().unlink(missing_ok=True)


def _remember(found: object) -> None:
    hint = _backend_hint_file()
    tmp = hint.with_name(f"{hint.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        private_dir(hint.parent)
        tmp.write_text(_class_path(found), encoding="utf-8")
        os.replace(tmp, hint)
    except (OSError, ConfigError):  # only an optimisation (ConfigError: a cache dir that is not ours)
        tmp.unlink(missing_ok=True)


def _discover() -> Any:
    import keyring
    from keyring.backends import chainer, fail, null
    from keyring.core import load_keyring

    chosen = os.environ.get("PYTHON_KEYRING_BACKEND")
    if chosen:
        # read the variable on every discovery: keyring.get_keyring() caches its first answer
        try:
            found = load_keyring(chosen)
        except Exception as exc:
            raise StorageError(
                f"PYTHON_KEYRING_BACKEND={chosen} cannot be used ({type(exc).__name__}); {_no_keyring_help()}"
            ) from None
    else:
        found = keyring.get_keyring()
    if isinstance(found, chainer.ChainerBackend):
        found = found.backends[0] if found.backends else fail.Keyring()  # type: ignore[no-untyped-call]
    if isinstance(found, (fail.Keyring, null.Keyring)):
        raise StorageError(_no_keyring_help())
    if not chosen:
        _remember(found)
    return found


class KeyringBackend:
    """The OS keyring through the :mod:`keyring` package, every call bounded by a timeout.

    ``service`` is the keyring service name: ``scopedauth``, or ``SCOPEDAUTH_KEYRING_SERVICE``
    (the test suite sets its own so it never touches the user's entries). A keyring remembered
    from an earlier run that fails in this session (no D-Bus over SSH, uninstalled) is
    forgotten and discovery runs once more.
    """

    def __init__(
        self, keyring_backend: Any = None, timeout: float | None = None, *, service: str | None = None
    ) -> None:
        self._kr = keyring_backend
        self._from_hint = False
        self._direct: bool | None = None
        self.service = service or os.environ.get("SCOPEDAUTH_KEYRING_SERVICE") or SERVICE
        self.timeout = keyring_timeout() if timeout is None else timeout

    @property
    def kr(self) -> Any:
        if self._kr is None:
            remembered = _remembered()
            if remembered is not None:
                self._kr, self._from_hint = remembered, True
            else:
                self._kr = _bounded("find a keyring", _discover, self.timeout)
        return self._kr

    @property
    def name(self) -> str:
        return f"keyring ({_class_path(self.kr).replace(':', '.')})"

    @property
    def max_value(self) -> int | None:
        """``scopedauth_max_value`` of the keyring object (UTF-16 code units), else a known cap.

        keyring sets attributes from ``KEYRING_PROPERTY_*`` variables, so
        ``KEYRING_PROPERTY_SCOPEDAUTH_MAX_VALUE=1280`` caps any backend.
        """
        cap = getattr(self.kr, "scopedauth_max_value", None) or _CAPS.get(type(self.kr).__name__)
        try:
            return int(cap) if cap else None
        except (TypeError, ValueError):
            return _CAPS.get(type(self.kr).__name__)

    def _call(self, what: str, op: Callable[[Any], T]) -> T:
        kr = self.kr
        try:
            return _bounded(what, lambda: op(kr), self.timeout)
        except _KeyringFailedError:
            if not self._from_hint:
                raise
        _forget_hint()  # the remembered keyring does not work here: discover again, once
        self._kr, self._from_hint = None, False
        kr = self.kr
        return _bounded(what, lambda: op(kr), self.timeout)

    def _direct_secret_service(self) -> bool:
        """Whether the remembered keyring is a plain Secret Service we may read over D-Bus ourselves.

        Only with nothing that could change keyring's behaviour: no PYTHON_KEYRING_BACKEND, no
        KEYRING_PROPERTY_* (scheme, preferred collection), no keyringrc.cfg.
        """
        if self._direct is None:
            self._direct = False
            if self._kr is None and not any(k.startswith(("PYTHON_KEYRING_", "KEYRING_PROPERTY_")) for k in os.environ):
                with contextlib.suppress(OSError):
                    hint = _backend_hint_file().read_text(encoding="utf-8").strip()
                    rc = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "python_keyring"
                    self._direct = hint == _SECRET_SERVICE and not (rc / "keyringrc.cfg").exists()
        return self._direct

    def get(self, key: str) -> str | None:
        if self._direct_secret_service():
            from . import secretservice

            try:
                return secretservice.read(self.service, key, self.timeout)
            except secretservice.Unusual:
                self._direct = False  # locked, odd or absent: keyring's backend decides
        value = self._call("read", lambda kr: kr.get_password(self.service, key))
        if value is not None and not isinstance(value, str):
            raise StorageError(f"the keyring returned a {type(value).__name__} for {key!r}, not text")
        return value

    def set(self, key: str, value: str) -> None:
        self._call("write", lambda kr: kr.set_password(self.service, key, value))

    def delete(self, key: str) -> None:
        def run(kr: Any) -> None:
            from keyring.errors import PasswordDeleteError

            try:
                kr.delete_password(self.service, key)
            except PasswordDeleteError:
                if kr.get_password(self.service, key) is not None:
                    raise  # a refusal, not "already gone"

        self._call("delete", run)

    def list_keys(self) -> list[str] | None:
        """Every username of our service, when the keyring can be searched (Secret Service), else None."""
        from .secretservice import usernames

        return self._call("list", lambda kr: usernames(kr, self.service))
