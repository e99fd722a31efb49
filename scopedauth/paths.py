"""Where scopedauth keeps its few non-secret files (locks, the remembered keyring backend)
and, only when asked for, the plaintext token file.

Each location can be moved with an environment variable so tests and CI never touch the
user's real directories.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
import sys
from pathlib import Path

from .errors import ConfigError

__all__ = ["cache_dir", "config_dir", "env_seconds", "is_env_name", "own_directory", "private_dir"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _platform_base(kind: str) -> Path:
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    if sys.platform == "darwin":
        return home / "Library" / ("Caches" if kind == "cache" else "Application Support")
    xdg = os.environ.get("XDG_CACHE_HOME" if kind == "cache" else "XDG_CONFIG_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec: relative values are invalid and ignored
        return Path(xdg)
    return home / (".cache" if kind == "cache" else ".config")


def cache_dir() -> Path:
    """Locks and the remembered keyring backend: safe to delete at any time.

    ``SCOPEDAUTH_CACHE_DIR`` may be shared, like ``/tmp``: each user gets a subdirectory of it,
    ``user-<uid>``, created 0700 and checked for its owner (:func:`private_dir`), so another user
    can neither hold our locks nor plant a remembered keyring for us.
    """
    override = os.environ.get("SCOPEDAUTH_CACHE_DIR")
    return Path(override) / _user_dir_name() if override else _platform_base("cache") / "scopedauth"


def _user_dir_name() -> str:
    if hasattr(os, "getuid"):
        return f"user-{os.getuid()}"
    import getpass  # Windows: no uids; a profile directory is per user anyway

    return "user-" + re.sub(r"[^A-Za-z0-9_.-]", "_", getpass.getuser())


def own_directory(path: Path) -> bool:
    """Whether ``path`` is a real directory (not a symlink) owned by this user; False if absent.

    Checked before anything is read from the cache dir (the remembered keyring class).
    """
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and (not hasattr(os, "getuid") or info.st_uid == os.getuid())


def _claim(path: Path) -> None:
    """Create the per-user cache directory 0700, or check that the existing one is ours and private."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            f"{path} is not a directory (a symlink or a file someone put there); scopedauth keeps its locks only "
            "in a directory of its own: remove it, or set SCOPEDAUTH_CACHE_DIR to a directory only you can write"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ConfigError(
            f"{path} belongs to another user (uid {info.st_uid}; you are uid {os.getuid()}), who could hold or swap "
            "scopedauth's locks: it will not be used. Have it removed, or set SCOPEDAUTH_CACHE_DIR to a directory "
            "only you can write"
        )
    if os.name == "posix" and info.st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)  # ours: tighten whatever the umask or a hand-made chmod left


def config_dir() -> Path:
    """The file store (plaintext tokens, 0600), used only when the user asks for it."""
    override = os.environ.get("SCOPEDAUTH_CONFIG_DIR")
    return Path(override) if override else _platform_base("config") / "scopedauth"


def _ours(path: Path) -> bool:
    """Whether an existing ``path`` is scopedauth's own directory, whose mode we may set.

    Ours: the default ``<base>/scopedauth`` directories and anything below the cache or config
    directory (e.g. ``locks``). Not ours: a directory named by ``SCOPEDAUTH_CONFIG_DIR`` or
    ``SCOPEDAUTH_CACHE_DIR`` itself (it may be shared, like a 1777 ``/tmp``), or any other place
    a caller chose.
    """
    for root, override in ((cache_dir(), None), (config_dir(), os.environ.get("SCOPEDAUTH_CONFIG_DIR"))):
        if path == root and not override:
            return True
        if root in path.parents:
            return True
    return False


def private_dir(path: Path) -> Path:
    """Create ``path`` (missing parents as ``mkdir -p`` would) and keep ``path`` private.

    A ``path`` this call creates is made exactly 0700, whatever the umask; an existing one is set
    to 0700 only when it is scopedauth's own (see :func:`_ours`). A directory the user named that
    already existed keeps its mode, tighter or looser: files inside it are 0600 on their own.
    """
    user_dir = cache_dir()
    if os.environ.get("SCOPEDAUTH_CACHE_DIR") and (path == user_dir or user_dir in path.parents):
        _claim(user_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
        created = True
    except FileExistsError:
        if not path.is_dir():
            raise
        created = False
    if os.name == "posix" and (created or _ours(path)) and path.stat().st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)
    return path


def is_env_name(name: str) -> bool:
    """Whether ``name`` can be an environment variable's name (``--client-secret-env VAR``)."""
    return _ENV_NAME.fullmatch(name) is not None


def env_seconds(name: str, default: float, *, minimum: float = 0.0, maximum: float = 86400.0) -> float:
    """A duration from the environment: junk or NaN gives ``default``; the value is clamped.

    The clamp matters: filelock reads a negative timeout as "wait forever" and a thread join
    refuses an infinite one.
    """
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    if math.isnan(value):
        return default
    return min(max(minimum, value), maximum)
