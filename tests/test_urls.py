"""scopedauth.urls: the one parser for URLs from outside, by table and by property.

The tables pin each rule and each message (which field, which fault, the value escaped); the
properties throw hostile text at it (PowerShell's Unicode quotes, controls, IDN, user info, odd
ports, fragments, spaces, backslashes) and require a :class:`Url` of RFC 3986 characters that
urllib and urllib3 read the same way, or a :class:`ConfigError`, never anything else.
"""

from __future__ import annotations

import ipaddress
import re
import string
from urllib.parse import urlsplit

import pytest
import urllib3.util
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scopedauth.errors import ConfigError
from scopedauth.urls import (
    MAX_URL,
    Url,
    is_loopback_host,
    is_loopback_url,
    join,
    parse_host,
    parse_url,
    shown,
)

RFC3986 = set(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
FIELD = "discovery document field token_endpoint"
PROPS = settings(max_examples=400, deadline=None)


def refused(value: object, field: str = FIELD) -> str:
    with pytest.raises(ConfigError) as info:
        parse_url(value, field)
    message = str(info.value)
    assert message.startswith(f"{field}: ")
    return message


# -- what is accepted, and how it is read -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port", "path", "query"),
    [
        (
            "https://adb-1.azuredatabricks.net/oidc/v1/token",
            "https",
            "adb-1.azuredatabricks.net",
            None,
            "/oidc/v1/token",
            "",
        ),
        ("HTTPS://Ws.Example.COM", "https", "ws.example.com", None, "", ""),
        ("https://h.com?x=1", "https", "h.com", None, "", "x=1"),
        ("https://h.com?a?b/c", "https", "h.com", None, "", "a?b/c"),
        ("https://h.com:8443/a/b?x=1&y=%2F?z", "https", "h.com", 8443, "/a/b", "x=1&y=%2F?z"),
        ("https://h.com/a@b:c/!$&'()*+,;=~", "https", "h.com", None, "/a@b:c/!$&'()*+,;=~", ""),
        ("https://h.com/%aF%00", "https", "h.com", None, "/%aF%00", ""),
        ("https://h.com:1", "https", "h.com", 1, "", ""),
        ("https://h.com:65535/", "https", "h.com", 65535, "/", ""),
        ("https://internal_host.corp", "https", "internal_host.corp", None, "", ""),
        ("https://xn--bcher-kva.example", "https", "xn--bcher-kva.example", None, "", ""),
        ("https://a.0xg", "https", "a.0xg", None, "", ""),  # not a number: a name
        ("https://10.1.2.3", "https", "10.1.2.3", None, "", ""),
        ("https://0.0.0.0", "https", "0.0.0.0", None, "", ""),
        ("https://255.255.255.255", "https", "255.255.255.255", None, "", ""),
        ("https://[2001:DB8:0::1]:8443/x", "https", "2001:db8::1", 8443, "/x", ""),
        ("http://localhost:8020", "http", "localhost", 8020, "", ""),
        ("http://LocalHost/cb", "http", "localhost", None, "/cb", ""),
        ("http://127.0.0.1:9", "http", "127.0.0.1", 9, "", ""),
        ("http://127.255.255.254/", "http", "127.255.255.254", None, "/", ""),
        ("http://[::1]:9/x", "http", "::1", 9, "/x", ""),
        ("http://[0:0:0:0:0:0:0:1]", "http", "::1", None, "", ""),
    ],
)
def test_accepted(text: str, scheme: str, host: str, port: int | None, path: str, query: str) -> None:
    url = parse_url(text, FIELD)
    assert url == Url(text=text, scheme=scheme, host=host, port=port, path=path, query=query)
    assert str(url) == text


def test_a_label_of_63_and_a_name_of_253_characters() -> None:
    label = "a" * 63
    assert parse_url(f"https://{label}.com", FIELD).host == f"{label}.com"
    name = ".".join(["b" * 61] * 4)  # 4*61 + 3 = 247
    name += "." + "c" * (253 - len(name) - 1)
    assert len(name) == 253
    assert parse_url(f"https://{name}", FIELD).host == name
    assert "no valid host name" in refused(f"https://{name}x")
    assert "no valid host name" in refused(f"https://{'a' * 64}.com")


def test_the_longest_url() -> None:
    base = "https://h.com/"
    assert str(parse_url(base + "a" * (MAX_URL - len(base)), FIELD)).endswith("a")
    assert f"longer than {MAX_URL}" in refused(base + "a" * (MAX_URL - len(base) + 1))


@pytest.mark.parametrize(
    ("text", "netloc", "origin", "effective_port", "loopback"),
    [
        ("https://h.com", "h.com", "https://h.com", 443, False),
        ("https://h.com:443/x", "h.com:443", "https://h.com", 443, False),
        ("https://h.com:80", "h.com:80", "https://h.com:80", 80, False),
        ("http://localhost:80/", "localhost:80", "http://localhost", 80, True),
        ("http://localhost", "localhost", "http://localhost", 80, True),
        ("http://localhost:443", "localhost:443", "http://localhost:443", 443, True),
        ("https://[2001:db8::1]", "[2001:db8::1]", "https://[2001:db8::1]", 443, False),
        ("https://[2001:db8::1]:8443", "[2001:db8::1]:8443", "https://[2001:db8::1]:8443", 8443, False),
        ("http://[::1]:9", "[::1]:9", "http://[::1]:9", 9, True),
    ],
)
def test_parts(text: str, netloc: str, origin: str, effective_port: int, loopback: bool) -> None:
    url = parse_url(text, FIELD)
    assert (url.netloc, url.origin, url.effective_port, url.is_loopback) == (netloc, origin, effective_port, loopback)
    assert url.hostname == netloc.rpartition(":")[0] if url.port is not None else url.hostname == netloc


# -- what is refused, and what the message says --------------------------------------------------


NOT_ABSOLUTE = "is not an absolute URL (expected https://host/…)"
FRAGMENT = "has a #fragment, which a URL here may not carry"
BRACKET = "has a bracket outside an IPv6 literal"
PORT = "has a bad port (1-65535, no leading zeros)"
NO_HOST = "has no host"
HOST_NAME = "has no valid host name (DNS labels of letters, digits and inner '-')"
NUMERIC = "has a numeric host that is not a dotted-quad IPv4 address"
UNCLOSED = "has an IPv6 literal without its closing ']'"
ZONE = "has an IPv6 zone identifier, which a URL here may not carry"
BAD_IPV6 = "has a malformed IPv6 literal"
AFTER_IPV6 = "has text after its IPv6 literal"
PERCENT = "has a '%' not followed by two hex digits"
PLAIN_HTTP = (
    "plain http is allowed only for loopback hosts (localhost, 127.0.0.0/8 or [::1]): tokens would cross "
    "the network unencrypted; use https://"
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("h.com/x", NOT_ABSOLUTE),
        ("https:h.com", NOT_ABSOLUTE),
        ("https:/h.com", NOT_ABSOLUTE),
        ("//h.com/x", NOT_ABSOLUTE),
        ("1https://h.com", NOT_ABSOLUTE),
        ("ftp://h.com", "uses ftp: only https is allowed (plain http for localhost, 127.0.0.0/8 or [::1])"),
        ("FILE:///etc/passwd", "uses file: only https is allowed (plain http for localhost, 127.0.0.0/8 or [::1])"),
        (
            "javascript://h.com/%0aalert(1)",
            "uses javascript: only https is allowed (plain http for localhost, 127.0.0.0/8 or [::1])",
        ),
        ("https://h.com#x", FRAGMENT),
        ("https://h.com#a#b", FRAGMENT),
        ("https://h.com#@evil.com#x", FRAGMENT),  # the first '#' ends the authority, not the last
        ("https://h.com/p?q#", FRAGMENT),
        ("https://h.com/[x]", BRACKET),
        ("https://h.com/a[", BRACKET),
        ("https://h.com?a]", BRACKET),
        ("https://h.com:0", PORT),
        ("https://h.com:00443", PORT),
        ("https://h.com:65536", PORT),
        ("https://h.com:100000", PORT),
        ("https://h.com:", PORT),
        ("https://h.com:x", PORT),
        ("https://h.com:1:2", PORT),
        ("https://", NO_HOST),
        ("https:///x", NO_HOST),
        ("https://:443", NO_HOST),
        ("https://-", HOST_NAME),
        ("https://..", HOST_NAME),
        ("https://a..b", HOST_NAME),
        ("https://.a.com", HOST_NAME),
        ("https://a.com.", HOST_NAME),
        ("https://-a.com", HOST_NAME),
        ("https://a-.com", HOST_NAME),
        ("https://_a.com", HOST_NAME),
        ("https://x%2ey.com", HOST_NAME),
        ("https://a!b.com", HOST_NAME),
        ("https://a[b.com", HOST_NAME),
        ("https://127.1", NUMERIC),
        ("https://2130706433", NUMERIC),
        ("https://0x7f000001", NUMERIC),
        ("https://a.0x7f", NUMERIC),
        ("https://a.0x", NUMERIC),
        ("https://1.2.3.4.5", NUMERIC),
        ("https://127.000.0.1", NUMERIC),
        ("https://0177.0.0.1", NUMERIC),
        ("https://256.0.0.1", NUMERIC),
        ("https://1.2.3.256", NUMERIC),
        ("https://[::1", UNCLOSED),
        ("https://[::1%25eth0]", ZONE),
        ("https://[zz::1]", BAD_IPV6),
        ("https://[127.0.0.1]", BAD_IPV6),
        ("https://[v1.x]", BAD_IPV6),
        ("https://[]", BAD_IPV6),
        ("https://[::1]x", AFTER_IPV6),
        ("https://[::1]]", AFTER_IPV6),
        ("https://[::1]:", PORT),
        ("https://[::1]:0", PORT),
        ("https://a.com/%", PERCENT),
        ("https://a.com/%4", PERCENT),
        ("https://a.com/%zz", PERCENT),
        ("http://h.com", PLAIN_HTTP),
        ("http://evil.localhost", PLAIN_HTTP),
        ("http://localhost.evil.com", PLAIN_HTTP),
        ("http://127.0.0.1.nip.io", PLAIN_HTTP),
        ("http://128.0.0.1", PLAIN_HTTP),
        ("http://10.0.0.1", PLAIN_HTTP),
        ("http://0.0.0.0", PLAIN_HTTP),
        ("http://[::2]", PLAIN_HTTP),
        ("http://[::]", PLAIN_HTTP),
        ("http://[::ffff:127.0.0.1]", PLAIN_HTTP),
    ],
)
def test_refused(text: str, reason: str) -> None:
    assert refused(text) == f"{FIELD}: {reason}: {text!r}"


def test_an_empty_url() -> None:
    assert refused("") == f"{FIELD}: the URL is empty"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://h.com/a b", "white space or control characters"),
        ("https://h.com/a\tb", "white space or control characters"),
        ("https://h.com\n", "white space or control characters"),
        ("https://h.com/\x1b]52;c;aGk=\x07", "white space or control characters"),
        ("https://h.com/\x7f", "white space or control characters"),
        ("https://h.com/\x85", "white space or control characters"),
        ("https://h.com/\u202e", "white space or control characters"),
        ("https://h.com/x\u2019;calc;\u2019", "no URL may hold (U+2019)"),
        ("https://h.com/\u2018\u201a\u201b", "(U+2018, U+201A, U+201B)"),
        ('https://h.com/"<>\\^`{|}', "(U+0022, U+003C, U+003E)"),  # the first three of nine, sorted
        ("https://h.com\\.evil.com/", "(U+005C)"),
        ("https://b\u00fccher.example", "(U+00FC); write internationalised host names in punycode"),
        ("https://\u0435xample.com", "punycode"),  # Cyrillic e
    ],
)
def test_refused_characters(text: str, reason: str) -> None:
    message = refused(text)
    assert reason in message
    assert message.endswith(repr(text))
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202e]", message)


def test_only_non_ascii_letters_get_the_punycode_hint() -> None:
    assert "punycode" not in refused("https://h.com/\u2019")
    assert "punycode" not in refused("https://h.com/a|b")


@pytest.mark.parametrize(
    "text",
    [
        "https://user:secret@h.com/x",
        "https://secret@h.com",
        "https://:secret@h.com",
        "https://h.com:secret@evil.com",
        "http://secret@localhost:8020",
        "https://a@b@h.com",
        "https://secret\x1b@h.com",
        "https://h.com\\secret@evil.com",
    ],
)
def test_user_info_is_refused_and_never_shown(text: str) -> None:
    message = refused(text)
    hidden = text.split("://", maxsplit=1)[0] + "://<user info>@" + text.rpartition("@")[2]
    assert message == f"{FIELD}: carries user info (user:password@); refusing to use it (not shown): {hidden!r}"
    assert "secret" not in message


@pytest.mark.parametrize("value", [None, 1, ["https://h.com"], b"https://h.com"])
def test_not_a_string(value: object) -> None:
    assert f"{FIELD}: expected a URL string, got {type(value).__name__}" == refused(value)


def test_the_message_names_the_field_and_escapes_the_value() -> None:
    assert refused("http://h.com/\x1b[2J", "--host") == (
        "--host: contains white space or control characters, which no URL may hold: 'http://h.com/\\x1b[2J'"
    )


def test_shown_cuts_long_values() -> None:
    assert shown("a" * 200) == repr("a" * 200)
    assert shown("a" * 201) == repr("a" * 200) + "…"
    assert shown("\x1b\x9b") == "'\\x1b\\x9b'"


# -- loopback ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.255.0.1", True),
        ("127.0.0.0", True),
        ("::1", True),
        ("[::1]", True),
        ("0:0:0:0:0:0:0:1", True),
        ("", False),
        (None, False),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("128.0.0.1", False),
        ("1.127.0.0", False),
        ("127.256.0.1", False),
        ("127.0.0.01", False),
        ("127.1", False),
        ("::", False),
        ("::2", False),
        ("[::1", False),
        ("::1]", False),
        ("[::11", False),
        ("0::1]", False),
        ("::ffff:127.0.0.1", False),
        ("localhost.example.com", False),
        ("evil.localhost", False),
        ("localhost.", False),
        ("mylocalhost", False),
        ("dbc-1.cloud.databricks.com", False),
    ],
)
def test_is_loopback_host(name: str | None, loopback: bool) -> None:
    assert is_loopback_host(name) is loopback


@pytest.mark.parametrize(
    ("text", "loopback"),
    [
        ("http://127.0.0.1:9/x", True),
        ("https://localhost", True),
        ("https://h.com", False),
        ("http://evil.localhost", False),
        ("http://[::1", False),
        ("not a url", False),
    ],
)
def test_is_loopback_url_never_raises(text: str, loopback: bool) -> None:
    assert is_loopback_url(text) is loopback


# -- hosts ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "origin"),
    [
        ("adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net"),
        ("dbc-1.cloud.databricks.com:443", "https://dbc-1.cloud.databricks.com"),
        (" \t https://H.com/// \r\n", "https://h.com"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("[::1]:8443", "https://[::1]:8443"),
        ("Xy.com", "https://xy.com"),
    ],
)
def test_parse_host(given: str, origin: str) -> None:
    url = parse_host(given, "--host")
    assert url.origin == origin
    if "://" not in given:  # the scheme added is exactly https://, whatever the case of the rest
        assert str(url) == "https://" + given


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "the host is empty: pass --host https://<workspace>.cloud.databricks.com"),
        (" \r\n", "the host is empty: pass --host https://<workspace>.cloud.databricks.com"),
        # only what shells and INI files leave around a value is stripped
        (
            "\x0bhttps://h.com",
            "contains white space or control characters, which no URL may hold: '\\x0bhttps://h.com'",
        ),
        (
            "https://h.com\u2028",
            "contains white space or control characters, which no URL may hold: 'https://h.com\\u2028'",
        ),
        ("https://h.com/x", "must be the workspace's base URL, without a path: 'https://h.com/x'"),
        ("https://h.com/X", "must be the workspace's base URL, without a path: 'https://h.com/X'"),
        (" https://h.com/? ", "must be the workspace's base URL, without a query: ' https://h.com/? '"),
        ("https://h.com?o=1", "must be the workspace's base URL, without a query: 'https://h.com?o=1'"),
        ("https://h.com#x", f"{FRAGMENT}: 'https://h.com#x'"),
        ("h.com:0", f"{PORT}: 'https://h.com:0'"),
    ],
)
def test_parse_host_refuses(given: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_host(given, "DATABRICKS_HOST")
    assert str(info.value) == f"DATABRICKS_HOST: {message}"


def test_parse_host_defaults_its_field() -> None:
    with pytest.raises(ConfigError, match=r"^host: "):
        parse_host("https://-")


# -- redirects -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "result"),
    [
        ("/moved/x?y=1", "https://h.com/moved/x?y=1"),
        ("moved", "https://h.com/a/moved"),
        ("//other.com/x", "https://other.com/x"),
        ("http://localhost:9/x", "http://localhost:9/x"),
    ],
)
def test_join(location: str, result: str) -> None:
    assert str(join(parse_url("https://h.com/a/b", FIELD), location, "the redirect")) == result


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("", "a redirect without a Location"),
        ("/a\tb", "white space"),  # urljoin would drop the tab and hide it
        ("https://evil.com\n.h.com/", "white space"),
        ("http://evil.com/", "plain http"),
        ("/x#frag", "fragment"),
    ],
)
def test_join_refuses(location: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as info:
        join(parse_url("https://h.com/a", FIELD), location, "the redirect from https://h.com/a")
    assert str(info.value).startswith("the redirect from https://h.com/a: ")


def test_join_refuses_a_missing_location_of_any_type() -> None:
    with pytest.raises(ConfigError, match="without a Location"):
        join(parse_url("https://h.com/a", FIELD), None, "the redirect")  # type: ignore[arg-type]


# -- properties ------------------------------------------------------------------------------------------

HOSTILE = [
    "\u2018",
    "\u2019",
    "\u201a",
    "\u201b",
    "'",
    '"',
    "`",
    "$(",
    "|",
    "&",
    "^",
    ";",
    " ",
    "\t",
    "\n",
    "\r",
    "\x00",
    "\x1b",
    "\x7f",
    "\x85",
    "\u2028",
    "\u202e",
    "\\",
    "@",
    "#",
    "%",
    "%0a",
    "[",
    "]",
    ":",
    ":0",
    ":65536",
    ":-1",
    "//",
    "..",
    "-",
    "b\u00fccher",
    "xn--",
    "user:pw@",
    "\ufeff",
    "\U0001f600",
]
SEEDS = [
    "https://adb-1.azuredatabricks.net/oidc/v1/authorize?client_id=x&state=y",
    "http://localhost:8020/cb",
    "http://127.0.0.1:9/x",
    "https://[2001:db8::1]:8443/oidc",
    "https://h.com",
]


@st.composite
def hostile_urls(draw: st.DrawFn) -> str:
    """A plausible URL with hostile pieces spliced in anywhere."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(HOSTILE) | st.text(min_size=1, max_size=3))
        text = text[:at] + piece + text[at:]
    return text


def check(text: str) -> None:
    """The property: a ConfigError, or a URL of RFC 3986 characters that urllib and urllib3 read alike."""
    try:
        url = parse_url(text, FIELD)
    except ConfigError as exc:
        assert str(exc).startswith(f"{FIELD}: ")
        assert not re.search(r"[\x00-\x1f\x7f-\x9f]", str(exc))
        return
    assert set(url.text) <= RFC3986 and url.text == text
    assert url.scheme == "https" or (url.scheme == "http" and url.is_loopback)
    assert url.port is None or 1 <= url.port <= 65535
    parts = urlsplit(text)
    assert (parts.scheme.lower(), parts.port, parts.path, parts.query) == (url.scheme, url.port, url.path, url.query)
    assert parts.username is None and parts.password is None and not parts.fragment
    assert parts.hostname is not None
    if ":" in url.host:
        assert ipaddress.IPv6Address(parts.hostname) == ipaddress.IPv6Address(url.host)
    else:
        assert parts.hostname == url.host
    wire = urllib3.util.parse_url(text)  # what requests connects to
    assert (wire.host or "").strip("[]").lower() == url.hostname.strip("[]") or ":" in url.host
    assert wire.port == url.port and wire.auth is None and wire.fragment is None


@PROPS
@given(hostile_urls())
@example("https://login.example.com/authorize\u2019; Start-Process calc.exe; \u2019")
@example("https://h.com\\@evil.com/")
@example("https://evil.com#@h.com")
@example("https://h.com:443@evil.com")
@example("http://127.0.0.1\t.evil.com")
@example("https://[::1")
@example("https://H\u0130.com")  # dotted capital I: lower() makes two characters
def test_hostile_urls_are_refused_or_plain_rfc3986(text: str) -> None:
    check(text)


@PROPS
@given(st.text(max_size=60))
def test_any_text_is_refused_or_plain_rfc3986(text: str) -> None:
    check(text)


@PROPS
@given(st.text(alphabet=sorted(RFC3986), max_size=40).map(lambda rest: "https://" + rest))
def test_any_rfc3986_text_is_refused_or_read_as_urllib_reads_it(text: str) -> None:
    check(text)


_LABELS = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_PCHARS = st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@", max_size=12)


@PROPS
@given(
    labels=st.lists(_LABELS, min_size=1, max_size=4),
    port=st.none() | st.integers(1, 65535),
    segments=st.lists(_PCHARS, max_size=3),
    query=st.none() | st.text(alphabet=string.ascii_letters + string.digits + "=&/?%20", max_size=12),
)
def test_well_formed_urls_are_accepted_exactly(
    labels: list[str], port: int | None, segments: list[str], query: str | None
) -> None:
    host = ".".join(labels)
    query = None if query is None or re.search(r"%(?![0-9A-Fa-f]{2})", query) else query
    path = "".join("/" + s for s in segments)
    text = f"https://{host}" + (f":{port}" if port else "") + path + (f"?{query}" if query is not None else "")
    url = parse_url(text, FIELD)
    assert (url.host, url.port, url.path, url.query) == (host, port, path, query or "")
    check(text)
