"""Running ``scopedauth`` as another local user, so permission checks are real.

The suite runs as root, and root passes every permission check: a test that wants "this file
cannot be read" or "another user owns that directory" runs the command as ``nobody`` (uid 65534)
through ``setpriv``, in a directory outside pytest's root-only ``tmp_path``. The test process
(root) plays the other party: the owner of an unreadable file, or another user who got to a
shared directory first.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.clitools import CLI, base_env

__all__ = ["NOBODY", "Nobody", "other_user"]

NOBODY = 65534
_REPO = Path(__file__).resolve().parent.parent


class Nobody:
    """``nobody`` with a home of its own (``home``, 0700) inside a world-traversable ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(mode=0o700)
        os.chown(self.home, NOBODY, NOBODY)

    def env(self, **extra: str) -> dict[str, str]:
        """The test environment with every per-user place moved into nobody's home (file storage)."""
        env = base_env(
            HOME=str(self.home),
            SCOPEDAUTH_CACHE_DIR=str(self.home / "cache"),
            SCOPEDAUTH_CONFIG_DIR=str(self.home / "config"),
            DATABRICKS_CONFIG_FILE=str(self.home / "databrickscfg"),
        )
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # root's session bus: not nobody's
        env.update(extra)
        return env

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
        """``scopedauth ARGS`` as nobody: CompletedProcess with text stdout and stderr.

        The interpreter and its packages may live where nobody cannot look (pyenv under a 0700
        /root, as on CI). In a private mount namespace the interpreter's base prefix is bound
        onto a path inside ``root``, and nobody runs that copy with the same packages on
        ``PYTHONPATH``: the same code, while every file the test is about keeps its real
        permissions.
        """
        base = Path(sys.base_prefix)
        mounted = self.root / "python"
        mounted.mkdir(exist_ok=True)

        def seen(path: str) -> str:
            return str(mounted / Path(path).relative_to(base)) if Path(path).is_relative_to(base) else path

        exe = seen(str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"))
        packages = [str(_REPO), *(seen(p) for p in site.getsitepackages() if Path(p).is_dir())]
        run_env = {**(env or self.env()), "PYTHONPATH": os.pathsep.join(packages)}
        setpriv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        bind = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", bind, "sh", str(base), str(mounted)]
        return subprocess.run(
            [*command, *setpriv, exe, *CLI[1:], *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=run_env,
            cwd=_REPO,
            stdin=subprocess.DEVNULL,
        )


@contextmanager
def other_user() -> Iterator[Nobody]:
    """A :class:`Nobody` for one test; skipped where the suite cannot switch users (not root, no setpriv)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None or shutil.which("unshare") is None:
        pytest.skip("needs root, setpriv and unshare to run a command as another user")
    root = Path(tempfile.mkdtemp(prefix="scopedauth-other-user-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield Nobody(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
