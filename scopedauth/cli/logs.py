"""One stderr format for people, shared by the click CLI and the fast ``token`` entry.

Library code only logs to the ``scopedauth`` logger; the command-line front ends attach this
handler so warnings (an early refresh that failed, a narrower grant) reach the terminal as
``scopedauth: warning: …`` and never stdout. :mod:`logging` is imported only when the handler
is installed: ``scopedauth token`` serving a cached token never needs it.

Everything written here goes through :func:`scopedauth.text.shown`: each argument of a log
record on its own (so text from outside cannot start a line of its own), then the whole line,
keeping only the line feeds of our own messages.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..text import shown

if TYPE_CHECKING:
    import logging

__all__ = ["error_line", "install_stderr_handler"]

_MARK = "_scopedauth_stderr"


def install_stderr_handler(debug: bool = False) -> None:
    import logging

    class StderrHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sys.stderr.write(shown(f"scopedauth: {record.levelname.lower()}: {_message(record)}", lines=True) + "\n")
            sys.stderr.flush()

    log = logging.getLogger("scopedauth")
    if not any(getattr(h, _MARK, False) for h in log.handlers):
        handler = StderrHandler()
        setattr(handler, _MARK, True)
        log.addHandler(handler)
    log.setLevel(logging.DEBUG if debug else logging.WARNING)
    log.propagate = False


def _message(record: logging.LogRecord) -> str:
    """``record.getMessage()``, with every string argument sanitised on its own first."""
    args = record.args
    if isinstance(args, tuple) and args:
        return str(record.msg) % tuple(a if isinstance(a, (int, float)) else shown(a) for a in args)
    return record.getMessage()


def error_line(exc: BaseException) -> str:
    """The line (or lines) a failure prints: the error's message, sanitised."""
    return shown(f"scopedauth: error: {exc}", lines=True)
