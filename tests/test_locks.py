"""Cross-process locks: exclusive between processes and threads, released when the holder is
killed, stored under the cache dir with hashed names only.

The holders are real processes (``python -c``) that take the lock and report on stdout.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scopedauth.errors import StorageError
from scopedauth.storage.locks import index_lock, lock_path, path_lock, target_lock

ROOT = Path(__file__).resolve().parent.parent
KEY = "https://adb-1234567890123456.7.azuredatabricks.net|databricks-cli|offline_access sql"

_HOLDER = """
import sys
from pathlib import Path
from scopedauth.storage.locks import path_lock, target_lock
lock = target_lock(sys.argv[2]) if sys.argv[1] == "target" else path_lock(Path(sys.argv[2]))
with lock:
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin (or kills us)
"""


@contextmanager
def holder(kind: str, what: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock until the block ends (closing its stdin lets go).

    Popen's own ``with`` closes both pipes and reaps the process, even when the holder was killed.
    """
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, kind, what],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "held"
            yield proc
        finally:
            assert proc.stdin is not None
            proc.stdin.close()  # let go (a no-op for a killed holder)
            proc.wait(timeout=10)


def test_target_lock_is_exclusive_across_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOPEDAUTH_LOCK_TIMEOUT", "0.5")
    with holder("target", KEY):
        started = time.monotonic()
        with pytest.raises(StorageError, match=r"held the login/refresh lock for 0\.5s"), target_lock(KEY):
            pytest.fail("acquired a lock another process holds")
        assert 0.45 <= time.monotonic() - started < 2.0
        with target_lock(KEY + " other"):  # another target is not blocked
            pass
    with target_lock(KEY):  # released when the holder let go
        pass


def test_a_holder_killed_with_sigkill_does_not_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOPEDAUTH_LOCK_TIMEOUT", "3")
    with holder("target", KEY) as proc:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        started = time.monotonic()
        with target_lock(KEY):
            pass
        assert time.monotonic() - started < 1.0


def test_lock_files_are_hashed_under_the_cache_dir(isolated_env: Path) -> None:
    cache = isolated_env / "cache" / f"user-{os.getuid()}"
    path = lock_path(KEY)
    assert path.parent == cache / "locks"
    assert re.fullmatch(r"[0-9a-f]{32}\.lock", path.name)
    assert lock_path(KEY) == path and lock_path(KEY + "x") != path
    with target_lock(KEY), index_lock():
        assert path.exists()
    assert stat.S_IMODE((cache / "locks").stat().st_mode) == 0o700
    names = [p.name for p in cache.rglob("*")]
    assert names and not [n for n in names if "azuredatabricks" in n or "adb-" in n or "sql" in n]
    assert sorted(names) == sorted(["locks", path.name, "index.lock"])


def test_threads_of_one_process_are_serialised() -> None:
    inside, most, counter = 0, 0, 0
    guard = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        nonlocal inside, most, counter
        try:
            for _ in range(3):
                with target_lock(KEY, timeout=10):
                    with guard:
                        inside += 1
                        most = max(most, inside)
                    value = counter
                    time.sleep(0.01)
                    counter = value + 1
                    with guard:
                        inside -= 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert most == 1
    assert counter == 12


def _contend(patience: float) -> tuple[bool, list[str]]:
    """Hold KEY while another thread asks for it with the env's timeout; (still waiting after
    ``patience`` seconds, what the contender got once we let go)."""
    outcome: list[str] = []

    def contender() -> None:
        try:
            with target_lock(KEY):
                outcome.append("acquired")
        except StorageError:
            outcome.append("timed out")

    with target_lock(KEY, timeout=5):
        thread = threading.Thread(target=contender, daemon=True)
        thread.start()
        thread.join(timeout=patience)
        waiting = thread.is_alive()
    thread.join(timeout=5)
    return waiting, outcome


def test_a_negative_timeout_fails_fast_instead_of_waiting_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOPEDAUTH_LOCK_TIMEOUT", "-1")
    stuck, outcome = _contend(3)
    assert not stuck
    assert outcome == ["timed out"]


@pytest.mark.parametrize(("value", "waits"), [("junk", True), ("nan", True), ("0", False)])
def test_lock_timeout_values(monkeypatch: pytest.MonkeyPatch, value: str, waits: bool) -> None:
    """Junk falls back to the default (a long wait), it does not become zero or forever."""
    monkeypatch.setenv("SCOPEDAUTH_LOCK_TIMEOUT", value)
    still_waiting, outcome = _contend(0.4)
    assert still_waiting is waits
    assert outcome == (["acquired"] if waits else ["timed out"])


def test_path_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    file = tmp_path / "config" / "tokens.json"
    with (
        holder("path", str(file)),
        pytest.raises(StorageError, match=r"tokens\.json file lock"),
        path_lock(file, timeout=0.3),
    ):
        pytest.fail("acquired a lock another process holds")
    with path_lock(file, timeout=1):
        assert (tmp_path / "config" / "tokens.json.lock").exists()


def test_an_unusable_lock_dir_is_a_storage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("SCOPEDAUTH_CACHE_DIR", str(blocker))
    with pytest.raises(StorageError, match="cannot take the login/refresh lock"), target_lock(KEY, timeout=1):
        pass


def test_unlinking_a_held_lock_file_never_lets_two_holders_in() -> None:
    """logout removes the lock file while holding it; a waiter must then lock the new file.

    filelock reopens the path on every poll, which covers most of this; locks._still_linked
    closes the remaining window (a waiter that opened the old file just before the unlink).
    """
    import threading
    import time as _time

    from scopedauth.storage.locks import lock_path, target_lock

    key = "https://h|databricks-cli|sql"
    spans: dict[str, tuple[float, float]] = {}
    t1_holding, t3_holding = threading.Event(), threading.Event()

    def t1() -> None:
        with target_lock(key, timeout=10):
            t1_holding.set()
            _time.sleep(0.3)  # t2 is now blocked on this file
            lock_path(key).unlink()
            threading.Thread(target=t3).start()
            t3_holding.wait(5)

    def t2() -> None:
        t1_holding.wait(5)
        with target_lock(key, timeout=10):
            spans["t2"] = (_time.monotonic(), _time.monotonic())

    def t3() -> None:
        with target_lock(key, timeout=10):
            start = _time.monotonic()
            t3_holding.set()
            _time.sleep(0.4)
            spans["t3"] = (start, _time.monotonic())

    threads = [threading.Thread(target=t1), threading.Thread(target=t2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(15)
    _time.sleep(0.6)
    assert "t3" in spans and "t2" in spans
    assert spans["t2"][0] >= spans["t3"][1], "t2 entered while t3 held the new lock file"
