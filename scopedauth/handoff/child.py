"""Running ``scopedauth exec``'s command: signals passed on exactly once, its fate as our exit code.

A Ctrl-C typed at a terminal reaches every process of the foreground process group, the child
included, so passing it on would deliver it twice; a ``kill -INT`` aimed at scopedauth reaches
only us and must be passed on. On POSIX the two are told apart by who sent the signal: the
forwarded signals are blocked in this thread (and in every thread started while they are, such
as the metadata server's) and read with ``sigwaitinfo``, whose ``si_pid`` is 0 when the kernel
(the terminal driver) sent it and the sender's pid when a process did. SIGCHLD is read the same
way, so the wait for the child needs no polling. Elsewhere (Windows, or not on the main thread)
plain handlers pass every signal on; Windows delivers Ctrl-C to the whole console anyway.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["FORWARDED", "held_signals", "run"]

FORWARDED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_WAITED = {*FORWARDED, getattr(signal, "SIGCHLD", 0)} - {0}
_held = threading.local()


def _can_wait() -> bool:
    return (
        os.name == "posix" and hasattr(signal, "sigwaitinfo") and threading.current_thread() is threading.main_thread()
    )


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Block the forwarded signals and SIGCHLD here, for :func:`run` to read; restore afterwards.

    Enter it before starting any thread that must not receive them (the metadata server).
    Signals still pending on exit are consumed, not delivered late as a KeyboardInterrupt.
    """
    if not _can_wait() or getattr(_held, "active", False):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)
    _held.active = True
    try:
        yield
    finally:
        while signal.sigtimedwait(_WAITED, 0) is not None:
            pass
        _held.active = False
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def run(command: list[str], environ: dict[str, str], say: Callable[[str], None]) -> int:
    """Run ``command``; its exit code, 128+N if signal N killed it, 127/126 if it cannot start."""
    try:
        if getattr(_held, "active", False):
            return _run_waiting(command, environ)
        return _run_with_handlers(command, environ)
    except FileNotFoundError:
        say(f"scopedauth: error: command not found: {command[0]}")
        return 127
    except OSError as exc:
        say(f"scopedauth: error: cannot run {command[0]}: {exc.strerror or exc}")
        return 126


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _run_waiting(command: list[str], environ: dict[str, str]) -> int:
    defaults = [getattr(signal, n) for n in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, n)]
    pid = os.posix_spawnp(command[0], command, environ, setsigmask=(), setsigdef=defaults)
    while True:
        info = signal.sigwaitinfo(_WAITED)
        if info.si_signo == signal.SIGCHLD:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return _exit_code(status)
        elif info.si_pid != 0:  # from a process (kill): the child has not seen it
            os.kill(pid, info.si_signo)


def _run_with_handlers(command: list[str], environ: dict[str, str]) -> int:
    child: list[subprocess.Popen[bytes]] = []
    pending: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        if child:
            child[0].send_signal(signum)
        else:
            pending.append(signum)

    handlers: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        child.append(subprocess.Popen(command, env=environ))
        for signum in pending:
            child[0].send_signal(signum)
        code = child[0].wait()
    finally:
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
    return 128 - code if code < 0 else code
