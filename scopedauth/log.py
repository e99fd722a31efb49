"""The ``scopedauth`` logger, imported only when something is logged.

Library code never prints: it logs to the ``scopedauth`` logger, and the command-line front
ends attach a handler that writes ``scopedauth: warning: …`` to stderr. Importing
:mod:`logging` costs more than the whole answer of ``scopedauth token`` from a fresh cache, and
only the slow paths (refresh, a failed write) log, so modules on the hot path ask for the
logger here, when they have something to say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

__all__ = ["logger", "on_first_use"]

_first_use: list[Callable[[], None]] = []


def on_first_use(setup: Callable[[], None]) -> None:
    """Run ``setup`` (the CLI's stderr handler) before the first message is logged, not before:
    ``scopedauth token`` serving a cached token then never imports :mod:`logging`, while a
    warning said on its way (a profile ignored, a service principal used) still gets the
    handler's format and sanitising."""
    _first_use[:] = [setup]


def logger() -> logging.Logger:
    import logging

    while _first_use:
        _first_use.pop()()
    return logging.getLogger("scopedauth")
