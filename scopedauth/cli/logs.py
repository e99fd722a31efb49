"""One stderr format for people, shared by the click CLI and the fast ``token`` entry.

Library code only logs to the ``scopedauth`` logger; the command-line front ends attach this
handler so warnings (an early refresh that failed, a narrower grant) reach the terminal as
``scopedauth: warning: …`` and never stdout. :mod:`logging` is imported only when the handler
is installed: ``scopedauth token`` serving a cached token never needs it.
"""

from __future__ import annotations

import sys

__all__ = ["error_line", "install_stderr_handler"]

_MARK = "_scopedauth_stderr"


def install_stderr_handler(debug: bool = False) -> None:
    import logging

    class StderrHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sys.stderr.write(f"scopedauth: {record.levelname.lower()}: {record.getMessage()}\n")
            sys.stderr.flush()

    log = logging.getLogger("scopedauth")
    if not any(getattr(h, _MARK, False) for h in log.handlers):
        handler = StderrHandler()
        setattr(handler, _MARK, True)
        log.addHandler(handler)
    log.setLevel(logging.DEBUG if debug else logging.WARNING)
    log.propagate = False


def error_line(exc: BaseException) -> str:
    return f"scopedauth: error: {exc}"
