"""The ``scopedauth`` logger, imported only when something is logged.

Library code never prints: it logs to the ``scopedauth`` logger, and the command-line front
ends attach a handler that writes ``scopedauth: warning: …`` to stderr. Importing
:mod:`logging` costs more than the whole answer of ``scopedauth token`` from a fresh cache, and
only the slow paths (refresh, a failed write) log, so modules on the hot path ask for the
logger here, when they have something to say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

__all__ = ["logger"]


def logger() -> logging.Logger:
    import logging

    return logging.getLogger("scopedauth")
