"""The one sanitiser for text shown to people, and every place that must use it.

A server, a pasted URL or a stored record can hold ESC, BEL, DEL, C1 controls, bidi overrides
or lone surrogates. Shown raw, those rewrite the terminal (an OSC 52 clipboard write, a cursor
move that paints a fake ``Signed in OK`` line) or crash the write. :func:`scopedauth.text.shown`
turns each into a visible escape (``\\x1b``, ``\\u202e``) and bounds the length; these tests pin
its output exactly and then check each road to a person: error classes, the stderr handler,
``status`` lines and the listener's pages.
"""

from __future__ import annotations

import logging
import re
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scopedauth.cli.logs import error_line, install_stderr_handler
from scopedauth.cli.report import status_lines
from scopedauth.config import Target
from scopedauth.errors import (
    AuthorizationDeniedError,
    ConfigError,
    InvalidGrantError,
    ScopedAuthError,
    TokenEndpointError,
)
from scopedauth.grants.manage import StatusEntry
from scopedauth.text import ESCAPED_CATEGORIES, has_controls, shown

OSC52 = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"
FAKE_LINE = "\r\nSigned in OK"
#: every kind of character that can move the cursor, recolour, reorder or hide text
HOSTILE = (
    "\x00\x07\x08\t\n\x0b\x0c\r\x1b\x7f\x80\x85\x9b\x9f"
    "\u061c\u200b\u200e\u200f\u2028\u2029\u202a\u202e\u2066\u2069\ufeff"
)


def unescape(text: str) -> str:
    named = {"t": "\t", "n": "\n", "r": "\r"}
    return re.sub(
        r"\\(?:([tnr])|x([0-9a-f]{2})|u([0-9a-f]{4})|U([0-9a-f]{8}))",
        lambda m: named[m.group(1)] if m.group(1) else chr(int(m.group(2) or m.group(3) or m.group(4), 16)),
        text,
    )


def test_each_control_becomes_a_visible_escape() -> None:
    assert shown("a\x1bb") == "a\\x1bb"
    assert shown("\x00\x07\t\n\r\x7f") == "\\x00\\x07\\t\\n\\r\\x7f"
    assert shown("\xad\u0600") == "\\xad\\u0600"  # soft hyphen and Arabic number sign: invisible formats
    assert shown("\x80\x9b\x9f") == "\\x80\\x9b\\x9f"
    assert shown("\u202eevil\u202c") == "\\u202eevil\\u202c"
    assert shown("\u2028\u2029\u200b\ufeff") == "\\u2028\\u2029\\u200b\\ufeff"
    assert shown("\U000e0041") == "\\U000e0041"  # a tag character (format, invisible)
    assert shown("\udc80") == "\\udc80"  # a lone surrogate from a surrogateescape'd paste


def test_printable_text_passes_unchanged() -> None:
    text = "token endpoint error: invalid_grant ü – € 😀 ‘smart’ <b>&amp; \\x1b literally"
    assert shown(text) == text
    assert shown("") == ""


def test_non_strings_are_shown_as_their_str() -> None:
    assert shown(None) == "None"
    assert shown(42) == "42"
    assert shown(["a\x1b"]) == "['a\\x1b']"


def test_the_whole_osc52_write_and_fake_line_are_defused() -> None:
    out = shown(OSC52 + FAKE_LINE)
    assert out == "\\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\x07\\r\\nSigned in OK"


def test_length_is_bounded_with_a_visible_cut() -> None:
    assert shown("x" * 10, limit=10) == "x" * 10
    assert shown("x" * 11, limit=10) == "x" * 9 + "…"
    assert shown("xxxxxxxx\x1b", limit=10) == "xxxxxxxx…"  # an escape that does not fit is not split
    assert shown("xxxxx\x1b", limit=10) == "xxxxx\\x1b"
    assert shown("x" * 9 + "\x1b", limit=10) == "x" * 9 + "…"  # room for the mark: nothing dropped
    assert shown("\x1b" + "x", limit=4) == "…"
    assert shown("ab", limit=1) == "…"
    assert shown("y" * 501) == "y" * 499 + "…"  # the default bound
    assert shown("\x1b" * 1000) == "\\x1b" * 124 + "…"


def test_lines_mode_keeps_only_line_feeds() -> None:
    assert shown("a\nb\r\nc\x1b", lines=True) == "a\nb\\r\nc\\x1b"
    assert shown("a\nb") == "a\\nb"


def test_lines_mode_has_a_larger_default_bound() -> None:
    long = "z" * 5000
    assert shown(long, lines=True) == long
    assert len(shown("z" * 20000, lines=True)) == 16384


@settings(max_examples=400, deadline=None)
@example(HOSTILE, True)
@example("\\x1b", False)
@given(
    st.text(
        alphabet=st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)),
        max_size=200,
    ),
    st.booleans(),
)
def test_output_is_safe_bounded_and_faithful(text: str, lines: bool) -> None:
    out = shown(text, limit=2000, lines=lines)
    out.encode("utf-8")  # writable to any UTF-8 terminal: no lone surrogates left
    for ch in out:
        if ch == "\n":
            assert lines
        else:
            assert unicodedata.category(ch) not in ESCAPED_CATEGORIES, repr(ch)
    assert len(out) <= 2000
    if "\\" not in text:  # then every backslash in the output starts an escape: undo them
        assert unescape(out) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=1, max_value=120))
def test_a_cut_is_a_prefix_of_the_uncut_output(text: str, limit: int) -> None:
    full = shown(text, limit=10_000)
    cut = shown(text, limit=limit)
    assert len(cut) <= limit
    if cut != full:
        assert cut.endswith("…") and full.startswith(cut[:-1])
        assert len(full) > limit


# -- the roads to a person ---------------------------------------------------------------------


def test_server_fields_of_errors_are_sanitised_where_they_enter() -> None:
    exc = TokenEndpointError("invalid_grant\x1b[2J", OSC52 + FAKE_LINE, 400)
    for text in (str(exc), exc.error, exc.description or ""):
        assert "\x1b" not in text and "\r" not in text and "\x07" not in text and "\n" not in text
    assert exc.error == "invalid_grant\\x1b[2J"
    assert str(exc).endswith("\\r\\nSigned in OK (HTTP 400)")
    denied = AuthorizationDeniedError("access_denied\x9b", "\u202edeifitrec")
    assert (denied.error, denied.description) == ("access_denied\\x9b", "\\u202edeifitrec")
    assert str(denied) == "authorization refused by the server: access_denied\\x9b (\\u202edeifitrec)"
    assert str(InvalidGrantError("invalid_grant", "x" * 900)).count("x") == 499


def test_error_fields_are_bounded() -> None:
    exc = TokenEndpointError("e" * 300, "d" * 900)
    assert len(exc.error) == 100 and len(exc.description or "") == 500


def test_every_error_line_is_sanitised_but_keeps_its_lines() -> None:
    line = error_line(ScopedAuthError("first\x1b[1A\nRun: scopedauth login\x07"))
    assert line == "scopedauth: error: first\\x1b[1A\nRun: scopedauth login\\x07"


def test_warnings_reach_stderr_sanitised(capsys: pytest.CaptureFixture[str]) -> None:
    install_stderr_handler()
    logging.getLogger("scopedauth").warning("could not revoke: %s", OSC52 + FAKE_LINE)
    err = capsys.readouterr().err
    assert err == "scopedauth: warning: could not revoke: " + shown(OSC52 + FAKE_LINE) + "\n"


def test_status_lines_escape_what_the_store_holds() -> None:
    with pytest.raises(ConfigError):  # a scope cannot even hold one (it would be part of a store key)
        Target("https://adb-1.azuredatabricks.net", scopes=("sql\u202e",))
    target = Target("https://adb-1.azuredatabricks.net", "cli\x1b]0;pwned\x07", ("sql",), "acc\r\n")
    (line,) = status_lines([StatusEntry(target, None, "bad record \x1b[31m\u202e", "file\x9b")])
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line and "\r" not in line
    assert "\n" not in line and "\x9b" not in line
    assert "account=acc\\r\\n" in line and "client=cli\\x1b]0;pwned\\x07" in line
    assert "error=bad record \\x1b[31m\\u202e" in line and "backend=file\\x9b" in line


def test_has_controls_means_c0_del_c1_or_a_lone_surrogate() -> None:
    for bad in ("\x00", "\x1f", "\x7f", "\x80", "\x9f", "\ud800", "\udfff"):
        assert has_controls(f"a{bad}b"), repr(bad)
    for fine in ("", "plain", "\u202e", "\u200f", "\xa0", "\ufeff", "\U0001f600"):
        assert not has_controls(fine), repr(fine)
