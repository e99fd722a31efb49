"""One stderr format for people, shared by the click CLI and the fast ``token`` entry.

Library code only logs to the ``scopedauth`` logger; the command-line front ends attach this
handler so warnings (an early refresh that failed, a narrower grant) reach the terminal as
``scopedauth: warning: …`` and never stdout.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["error_line", "install_stderr_handler"]


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"scopedauth: {record.levelname.lower()}: {record.getMessage()}\n")
        sys.stderr.flush()


def install_stderr_handler(debug: bool = False) -> None:
    log = logging.getLogger("scopedauth")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        log.addHandler(_StderrHandler())
    log.setLevel(logging.DEBUG if debug else logging.WARNING)
    log.propagate = False


def error_line(exc: BaseException) -> str:
    return f"scopedauth: error: {exc}"
