"""Where scopedauth keeps its few non-secret files (locks, the remembered keyring backend)
and, only when asked for, the plaintext token file.

Each location can be moved with an environment variable so tests and CI never touch the
user's real directories.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

__all__ = ["cache_dir", "config_dir", "env_seconds", "private_dir"]


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
    """Locks and the remembered keyring backend: safe to delete at any time."""
    override = os.environ.get("SCOPEDAUTH_CACHE_DIR")
    return Path(override) if override else _platform_base("cache") / "scopedauth"


def config_dir() -> Path:
    """The file store (plaintext tokens, 0600), used only when the user asks for it."""
    override = os.environ.get("SCOPEDAUTH_CONFIG_DIR")
    return Path(override) if override else _platform_base("config") / "scopedauth"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make ``path`` itself 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        mode = path.stat().st_mode & 0o777
        if mode != 0o700:
            os.chmod(path, 0o700)
    return path


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
