"""(pure) The one sanitiser for text shown to people: :func:`shown`.

A token endpoint's ``error_description``, a callback's ``error``, a pasted address, a record
read from a file: any of them may hold characters a terminal or a page acts on instead of
showing. ESC starts sequences that move the cursor, recolour, retitle the window or write the
clipboard (OSC 52); CR and LF paint a fake line such as ``Signed in OK``; C1 controls (U+0080 to
U+009F) act as ESC on some terminals; bidi overrides (U+202E) and other format characters
reorder or hide text; a lone surrogate makes the write itself fail. :func:`shown` turns each such
character into a visible escape, spelt as Python spells it (``\\x1b``, ``\\r``, ``\\u202e``,
``\\U000e0041``), and bounds the length,
so the person sees what was sent, not what it would do.

Where it is applied (so that it cannot be forgotten): the error classes sanitise the server's
fields as they are built (:mod:`scopedauth.errors`); the CLI's stderr writer passes every error,
warning and message through it again, keeping only line feeds of our own (:mod:`scopedauth.cli`);
``status`` lines and the listener's pages (after which Jinja escapes HTML) use it per value.
"""

from __future__ import annotations

import unicodedata

__all__ = ["DEFAULT_LIMIT", "ESCAPED_CATEGORIES", "LINES_LIMIT", "has_controls", "shown"]

#: control (C0, DEL, C1), format (bidi, zero width, tags), surrogate, line and paragraph separator
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: the longest single value shown (a server's error description, a host, a scope list)
DEFAULT_LIMIT = 500
#: the longest whole message shown in ``lines`` mode (our own multi-line errors and notes)
LINES_LIMIT = 16384
_CUT = "…"


def _escape(ch: str) -> str:
    """Python's own spelling of the character: ``\\x1b``, ``\\r``, ``\\u202e``, ``\\udc80``, ``\\U000e0041``."""
    return ch.encode("unicode_escape").decode("ascii")


def shown(value: object, limit: int | None = None, *, lines: bool = False) -> str:
    """``value`` as text safe to show, at most ``limit`` characters (cut with ``…``).

    ``lines=True`` keeps line feeds (for messages we wrote as several lines, whose parts from
    outside were already sanitised without them) and defaults to :data:`LINES_LIMIT`.
    An escape is never split by the cut; ``limit`` is at least 1.
    """
    text = str(value)
    bound = limit if limit is not None else LINES_LIMIT if lines else DEFAULT_LIMIT
    out: list[str] = []
    size = 0
    for ch in text:
        piece = ch if (ch == "\n" and lines) or unicodedata.category(ch) not in ESCAPED_CATEGORIES else _escape(ch)
        if size + len(piece) > bound:
            if size + len(_CUT) > bound:  # no room left for the cut mark: drop the last piece
                out.pop()
            return "".join(out) + _CUT
        out.append(piece)
        size += len(piece)
    return "".join(out)


def has_controls(value: str) -> bool:
    """Whether ``value`` holds a control character (C0, DEL, C1) or a lone surrogate.

    What no plausible protocol value (a code, a state, an error code or description) contains;
    format characters such as bidi marks may appear in a description in another language, and
    are only ever shown escaped.
    """
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value)
