"""The authorization response rules of :mod:`scopedauth.oauth.callback`, each pinned at its edge.

Mutation testing found these untested: the plausibility check (control characters, values over
4096 characters), a repeated blank parameter (``state=&state=S``), the 50-field and 8192-character
limits. Each limit is tested on both sides, each field on its own, so that moving a bound by one
or dropping a field from a rule fails a test.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from scopedauth.errors import AuthorizationDeniedError, AuthorizationError
from scopedauth.oauth.callback import (
    MAX_QUERY,
    Callback,
    IgnoredCallbackError,
    Verdict,
    judge,
    parse_pasted,
    parse_query,
    redirect_path,
)

STATE = "S" * 43
REDIRECT = "http://localhost:8020"
FIELDS = ("code", "state", "error", "error_description")


def refused(query: str) -> str:
    with pytest.raises(AuthorizationError) as info:
        parse_query(query)
    assert len(info.value.args) == 1  # a malformed query is not a verdict: it is refused outright
    return str(info.value)


def test_a_plain_callback_parses_into_its_fields() -> None:
    got = parse_query(urlencode({"code": "c0de", "state": STATE, "iss": "x"}))
    assert got == Callback(code="c0de", state=STATE, error=None, error_description=None)
    got = parse_query(urlencode({"error": "access_denied", "error_description": "", "state": ""}))
    assert got == Callback(code=None, state="", error="access_denied", error_description="")


def test_blank_code_and_error_count_as_absent() -> None:
    assert parse_query(f"code=&error=&state={STATE}") == Callback(state=STATE, error_description=None)


# -- the plausibility check ------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\x1f", "\x7f", "\x85", "\x9b", "\n", "\r"])
def test_control_characters_in_any_field_are_refused(name: str, bad: str) -> None:
    message = refused(urlencode({name: f"a{bad}b", "state": STATE} if name != "state" else {name: f"a{bad}b"}))
    assert message == f"the callback's {name!r} is not a plausible value"


@pytest.mark.parametrize("name", FIELDS)
def test_values_up_to_4096_characters_pass_and_longer_ones_are_refused(name: str) -> None:
    others = {} if name == "state" else {"state": STATE}
    assert getattr(parse_query(urlencode({name: "v" * 4096, **others})), name) == "v" * 4096
    assert refused(urlencode({name: "v" * 4097, **others})) == f"the callback's {name!r} is not a plausible value"


def test_printable_unicode_and_format_characters_pass() -> None:
    """Only controls are implausible; a description in any language (with its bidi marks) is shown escaped."""
    text = "Zugriff verweigert – \u200fمرفوض\u200f ✓"
    assert parse_query(urlencode({"error_description": text, "state": STATE})).error_description == text


# -- query limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIELDS)
def test_a_repeated_parameter_is_ambiguous_even_when_one_is_blank(name: str) -> None:
    for query in (f"{name}=&{name}=S", f"{name}=S&{name}=", f"{name}=a&{name}=a"):
        assert refused(query) == f"the callback repeats {name!r}; refusing an ambiguous response"


def test_state_blank_then_ours_is_not_our_state() -> None:
    refused(f"code=c&state=&state={STATE}")


def test_fifty_fields_pass_and_fifty_one_are_refused() -> None:
    fifty = "&".join([f"code=c&state={STATE}", *(f"x{i}=y" for i in range(48))])
    assert judge(parse_query(fifty), STATE) == "c"
    message = refused(fifty + "&x=y")
    assert message.startswith("the callback query is malformed (") and "Max number of fields exceeded" in message


def test_the_query_may_be_8192_characters_and_no_more() -> None:
    base = f"code=c&state={STATE}&pad="
    exact = base + "p" * (MAX_QUERY - len(base))
    assert len(exact) == MAX_QUERY == 8192
    assert judge(parse_query(exact), STATE) == "c"
    assert refused(exact + "p") == "the callback query is longer than 8192 bytes"


def test_loose_pieces_are_tolerated_not_fatal() -> None:
    """Non-strict parsing: a bare word or an empty piece (``&&``) is skipped, as browsers send them."""
    assert judge(parse_query(f"code=c&&junk&state={STATE}"), STATE) == "c"


# -- judging ---------------------------------------------------------------------------------------


def test_judge_names_each_outcome() -> None:
    assert judge(Callback(code="c", state=STATE), STATE) == "c"
    with pytest.raises(IgnoredCallbackError) as stray:
        judge(Callback(state=STATE), STATE)
    assert str(stray.value) == "this request is not an authorization response" and stray.value.verdict is Verdict.STRAY
    with pytest.raises(IgnoredCallbackError) as forged:
        judge(Callback(code="c", state=STATE[:-1]), STATE)
    assert forged.value.verdict is Verdict.FORGED
    with pytest.raises(IgnoredCallbackError) as missing:
        judge(Callback(code="c"), STATE)
    assert missing.value.verdict is Verdict.FORGED
    with pytest.raises(AuthorizationDeniedError) as denied:
        judge(Callback(error="access_denied", error_description="no", state=STATE), STATE)
    assert (denied.value.error, denied.value.description) == ("access_denied", "no")
    with pytest.raises(AuthorizationDeniedError):  # an error wins over a code
        judge(Callback(code="c", error="server_error", state=STATE), STATE)


def test_redirect_path() -> None:
    assert redirect_path("http://localhost:8020") == "/"
    assert redirect_path("http://localhost:8020/cb") == "/cb"


# -- pasted addresses ------------------------------------------------------------------------------


def test_a_paste_gives_the_address_and_code() -> None:
    url = f"{REDIRECT}/?code=c0de&state={STATE}"
    assert parse_pasted(f"  {url}\n", REDIRECT, STATE) == (url, "c0de")
    assert parse_pasted(f"{REDIRECT}?code=c0de&state={STATE}", REDIRECT, STATE)[1] == "c0de"


def test_a_pasted_fragment_is_dropped() -> None:
    """Finding 3: the address handed on never carries a fragment (authlib would read a token there)."""
    url = f"{REDIRECT}/?code=c0de&state={STATE}"
    got = parse_pasted(f"{url}#access_token=INJECTED&token_type=bearer&state={STATE}", REDIRECT, STATE)
    assert got == (url, "c0de")
    assert parse_pasted(f"{url}#", REDIRECT, STATE) == (url, "c0de")


@pytest.mark.parametrize(
    "text",
    ["garbage", "http://[::1/?code=c", "http://localhost:99999/?code=c", "localhost:8020/?code=c", "http:///?code=c"],
)
def test_what_is_not_an_address_says_so(text: str) -> None:
    with pytest.raises(AuthorizationError) as info:
        parse_pasted(text, REDIRECT, STATE)
    assert str(info.value) == (
        f"that is not the address from the browser's address bar; paste the whole URL starting with {REDIRECT}"
    )


@pytest.mark.parametrize(
    "text",
    [
        f"https://localhost:8020/?code=c&state={STATE}",
        f"http://127.0.0.1:8020/?code=c&state={STATE}",
        f"http://localhost:8021/?code=c&state={STATE}",
        f"http://localhost/?code=c&state={STATE}",
        f"http://localhost:8020/cb?code=c&state={STATE}",
    ],
)
def test_another_redirect_is_named(text: str) -> None:
    with pytest.raises(AuthorizationError) as info:
        parse_pasted(text, REDIRECT, STATE)
    assert str(info.value) == f"that address does not start with this login's redirect URI {REDIRECT}"


def test_the_path_of_a_redirect_uri_must_match() -> None:
    redirect = "http://localhost:8020/cb"
    assert parse_pasted(f"{redirect}?code=c&state={STATE}", redirect, STATE)[1] == "c"
    with pytest.raises(AuthorizationError):
        parse_pasted(f"http://localhost:8020/?code=c&state={STATE}", redirect, STATE)


def test_a_paste_without_a_code_or_with_a_wrong_state_says_why() -> None:
    with pytest.raises(AuthorizationError) as stray:
        parse_pasted(f"{REDIRECT}/?state={STATE}", REDIRECT, STATE)
    assert str(stray.value) == "that address carries no authorization code; sign in first, then copy it"
    assert len(stray.value.args) == 1
    with pytest.raises(AuthorizationError) as forged:
        parse_pasted(f"{REDIRECT}/?code=c&state=x", REDIRECT, STATE)
    assert not isinstance(forged.value, IgnoredCallbackError)  # a paste is refused, not waited past
    assert forged.value.args == ("the state does not match this login (a stale tab or a forged request)",)
    with pytest.raises(AuthorizationDeniedError):
        parse_pasted(f"{REDIRECT}/?error=access_denied&state={STATE}", REDIRECT, STATE)


def test_a_lone_surrogate_is_implausible_and_never_a_match() -> None:
    """A paste read under surrogateescape may hold one: a refusal or a mismatch, never UnicodeEncodeError."""
    assert refused(f"code=\udc80&state={STATE}") == "the callback's 'code' is not a plausible value"
    with pytest.raises(AuthorizationError) as info:
        judge(Callback(code="c", state="\udc80"), STATE)
    assert info.value.verdict is Verdict.FORGED


def test_an_error_redirect_needs_our_state_too() -> None:
    with pytest.raises(AuthorizationError) as info:
        judge(Callback(error="access_denied", state="other"), STATE)
    assert not isinstance(info.value, AuthorizationDeniedError) and info.value.verdict is Verdict.FORGED
    with pytest.raises(IgnoredCallbackError) as missing:
        judge(Callback(error="access_denied"), STATE)
    assert missing.value.verdict is Verdict.FORGED


def test_an_empty_code_is_no_code() -> None:
    with pytest.raises(AuthorizationError) as info:
        judge(Callback(code="", state=STATE), STATE)
    assert info.value.verdict is Verdict.STRAY
