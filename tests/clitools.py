"""Helpers for tests that run ``scopedauth`` as a separate process, the way people do.

:class:`Cli` starts the command with its stderr read as it arrives (prompts end without a
newline), so a test can wait for the authorize URL, act as the user, write to stdin, and then
collect the exit code. :func:`file_records` reads the plaintext file store the processes share
(``--storage file`` in the test's private config directory).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import free_port

__all__ = [
    "AGENT",
    "Cli",
    "authorize_url",
    "base_env",
    "file_records",
    "free_port",
    "listening_sockets",
    "records",
    "run",
    "state_of",
]

CLI = [sys.executable, "-m", "scopedauth"]
AGENT = Path(__file__).parent / "agents" / "user.py"
_URL = re.compile(r"https?://\S+/v1/authorize\?\S+")


def base_env(**extra: str) -> dict[str, str]:
    """The isolated test environment, file storage, no way to find a real browser, requests' own CAs."""
    dropped = ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({"SCOPEDAUTH_STORAGE": "file", "SCOPEDAUTH_WSL": "0", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60) -> Any:
    """Run the command to completion: CompletedProcess with text stdout and stderr."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or base_env(),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


class Cli:
    """A running ``scopedauth`` command whose stderr can be waited on while it runs."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, stdin: Any = subprocess.PIPE) -> None:
        self.proc = subprocess.Popen(
            [*CLI, *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or base_env()
        )
        self._err = bytearray()
        self._out = bytearray()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stderr, self._err), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stdout, self._out), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: Any, into: bytearray) -> None:
        while chunk := os.read(stream.fileno(), 4096):
            with self._lock:
                into.extend(chunk)

    @property
    def stderr(self) -> str:
        with self._lock:
            return self._err.decode("utf-8", "replace")

    @property
    def stdout(self) -> str:
        with self._lock:
            return self._out.decode("utf-8", "replace")

    def wait_for(self, text: str, timeout: float = 20, count: int = 1) -> str:
        """All stderr so far, once ``text`` appears in it ``count`` times; fails on exit or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.stderr
            if seen.count(text) >= count:
                return seen
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the pump drain
                raise AssertionError(f"exited {self.proc.returncode} before {text!r}:\n{self.stderr}")
            time.sleep(0.02)
        self.proc.kill()
        raise AssertionError(f"no {text!r} within {timeout}s:\n{self.stderr}")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def finish(self, timeout: float = 30) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"still running after {timeout}s:\n{self.stderr}") from None
        for thread in self._threads:
            thread.join(timeout=5)
        self._close_pipes()
        return code

    def _close_pipes(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def authorize_url(stderr: str) -> str:
    """The authorize URL a login printed for the person."""
    found = _URL.search(stderr)
    assert found, stderr
    return found.group(0)


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def file_records(tmp_path: Path) -> dict[str, str]:
    """Every raw entry of the test's file store (keys → values), {} when it was never written."""
    path = tmp_path / "config" / "tokens.json"  # SCOPEDAUTH_CONFIG_DIR from the isolated_env fixture
    return json.loads(path.read_text()) if path.exists() else {}


def records(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """The token records of the file store, decoded (the index and kept secrets left out)."""
    return {k: json.loads(v) for k, v in file_records(tmp_path).items() if not k.startswith(".") and "#" not in k}


def listening_sockets(pid: int) -> list[str]:
    """The TCP sockets process ``pid`` is listening on (``/proc``: its fds ∩ LISTEN entries)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: TCP_LISTEN
                found.append(cols[1])
    return found
