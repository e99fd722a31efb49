"""The one parser for URLs that come from outside: the network, a paste, a file, the environment.

Every such value (``--host``, ``DATABRICKS_HOST``, a profile's ``host``, a discovery document's
endpoints, databricks-config's ``oidc_endpoint``, ``--redirect-uri``, a stored record's token
endpoint, a redirect's ``Location``, the sign-in URL handed to a browser launcher) passes
:func:`parse_url` (or :func:`parse_host`) once, before anything else looks at it. What comes
out is a :class:`Url` whose text holds only RFC 3986 characters and whose parts are known.

Why not :func:`urllib.parse.urlsplit`: it is lenient by design. It deletes tabs and newlines
(bpo-43882), accepts any character (U+2019 closes a PowerShell string; ``|`` ends a cmd
command), raises a bare ValueError for ``https://[::1`` or from ``.port``, and answers ``-``,
``..`` or port 0 without a word. Here the grammar is RFC 3986's, narrowed to what an OAuth
client needs:

* absolute ``https://`` URLs; plain ``http://`` only for a loopback host, which is literal
  ``localhost``, 127.0.0.0/8 written as a dotted quad, or ``[::1]`` (not ``*.localhost``:
  /etc/hosts or a resolver may send such a name anywhere);
* no user info, no ``#fragment`` (RFC 6749 §3.1 and §3.1.2 forbid them on endpoints and
  redirect URIs), a port of 1-65535 without leading zeros;
* a host made of DNS labels (letters, digits, ``_``, inner ``-``; 1-63 characters; no empty
  label) or an IP literal: a dotted quad, or an IPv6 address in brackets without a zone. A
  name whose last label is a number must be a dotted quad: ``127.1`` and ``2130706433`` mean
  127.0.0.1 to some resolvers and nothing to others. Internationalised names come as
  punycode (``xn--``).

A refusal is a :class:`~scopedauth.errors.ConfigError` that names the field the value came
from and shows the value with control characters escaped (``repr``), cut to a readable length.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urljoin

from .errors import ConfigError
from .records import Record

__all__ = [
    "LOOPBACK_HINT",
    "MAX_URL",
    "Url",
    "is_loopback_host",
    "is_loopback_url",
    "join",
    "parse_host",
    "parse_url",
    "shown",
]

#: longest URL accepted; a sign-in URL with its query is well under 2 KiB
MAX_URL = 8192
#: what counts as loopback, as the messages say it
LOOPBACK_HINT = "localhost, 127.0.0.0/8 or [::1]"
_SHOWN = 200
_DEFAULT_PORTS = {"https": 443, "http": 80}
# RFC 3986 §2: unreserved, reserved (gen-delims and sub-delims) and "%" of a percent-encoding
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9_\-]{0,61}[a-z0-9])?")
_NUMERIC = re.compile(r"[0-9]+|0x[0-9a-f]*")
_DOTTED_QUAD = re.compile(r"(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}")
_PORT = re.compile(r"[1-9][0-9]{0,4}")


def shown(value: str) -> str:
    """``value`` for a message: quoted and escaped by ``repr``, cut short.

    ``repr`` escapes every character :func:`str.isprintable` refuses (C0, DEL, C1, format and
    separator characters), which is the set :func:`scopedauth.text.shown` escapes, and quotes
    the value so a refused URL reads unambiguously; the CLI then passes the whole message
    through ``text.shown`` again on its way to stderr.
    """
    return repr(value[:_SHOWN]) + ("…" if len(value) > _SHOWN else "")


def _refuse(field: str, value: str, reason: str) -> ConfigError:
    return ConfigError(f"{field}: {reason}: {shown(value)}")


class Url(Record):
    """A URL that passed :func:`parse_url`: ``str()`` gives its text back exactly as given.

    ``host`` is lower case (an IPv6 literal compressed, without brackets); ``port`` is the one
    written, or None. The text is kept as given, not rebuilt, because an OAuth server compares
    some URLs (the redirect URI) as strings.
    """

    __slots__ = ("host", "path", "port", "query", "scheme", "text")
    text: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: str

    def __init__(self, *, text: str, scheme: str, host: str, port: int | None, path: str, query: str) -> None:
        self._init(text=text, scheme=scheme, host=host, port=port, path=path, query=query)

    def __str__(self) -> str:
        return self.text

    @property
    def hostname(self) -> str:
        """The host as a URL writes it: an IPv6 address in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def netloc(self) -> str:
        """``host[:port]`` as written in a URL (IPv6 in brackets)."""
        return self.hostname if self.port is None else f"{self.hostname}:{self.port}"

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else _DEFAULT_PORTS[self.scheme]

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``, lower case, without the scheme's default port."""
        port = "" if self.effective_port == _DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{self.hostname}{port}"

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)


def is_loopback_host(host: str | None) -> bool:
    """Literal ``localhost``, a dotted quad in 127.0.0.0/8, or ``::1`` (brackets allowed).

    Deliberately not ``*.localhost`` (RFC 6761 asks resolvers to keep those on loopback, but
    /etc/hosts and many resolvers do not) and not IPv4-mapped ``::ffff:127.0.0.1``.
    """
    if not host:
        return False
    name = host.lower()
    if name == "localhost":
        return True
    if _DOTTED_QUAD.fullmatch(name):
        return name.split(".")[0] == "127" and all(int(part) <= 255 for part in name.split("."))
    inner = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        return ipaddress.IPv6Address(inner) == ipaddress.IPv6Address(1)
    except ValueError:
        return False


def is_loopback_url(value: str) -> bool:
    """Whether ``value`` parses and names a loopback host; never raises (for proxy decisions)."""
    try:
        return parse_url(value, "URL").is_loopback
    except ConfigError:
        return False


def _check_chars(value: str, field: str) -> None:
    if len(value) > MAX_URL:
        raise _refuse(field, value, f"is longer than {MAX_URL} characters")
    if not _URL_CHARS.fullmatch(value):
        bad = sorted({c for c in value if not _URL_CHARS.fullmatch(c)})
        if any(c.isspace() or not c.isprintable() for c in bad):
            reason = "contains white space or control characters, which no URL may hold"
        else:
            names = ", ".join(f"U+{ord(c):04X}" for c in bad[:3])
            reason = f"contains characters no URL may hold ({names})"
            if any(not c.isascii() and c.isalpha() for c in bad):
                reason += "; write internationalised host names in punycode (xn--…)"
        raise _refuse(field, value, reason)
    if _BAD_PERCENT.search(value):
        raise _refuse(field, value, "has a '%' not followed by two hex digits")


def _host(authority: str, value: str, field: str) -> tuple[str, int | None]:
    """``(host, port)`` of an authority without user info; ConfigError naming the fault."""
    if authority.startswith("["):
        inner, bracket, rest = authority[1:].partition("]")
        if not bracket:
            raise _refuse(field, value, "has an IPv6 literal without its closing ']'")
        if "%" in inner:
            raise _refuse(field, value, "has an IPv6 zone identifier, which a URL here may not carry")
        try:
            host = ipaddress.IPv6Address(inner).compressed
        except ValueError:
            raise _refuse(field, value, "has a malformed IPv6 literal") from None
        if rest and not rest.startswith(":"):
            raise _refuse(field, value, "has text after its IPv6 literal")
        port_text = rest[1:] if rest else None
    else:
        name, colon, port_part = authority.partition(":")
        port_text = port_part if colon else None
        host = name.lower()
        if not host:
            raise _refuse(field, value, "has no host")
        labels = host.split(".")
        if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
            raise _refuse(field, value, "has no valid host name (DNS labels of letters, digits and inner '-')")
        if _NUMERIC.fullmatch(labels[-1]) and not (
            _DOTTED_QUAD.fullmatch(host) and all(int(part) <= 255 for part in labels)
        ):
            raise _refuse(field, value, "has a numeric host that is not a dotted-quad IPv4 address")
    if port_text is None:
        return host, None
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise _refuse(field, value, "has a bad port (1-65535, no leading zeros)")
    return host, int(port_text)


def parse_url(value: object, field: str) -> Url:
    """Validate an absolute URL from outside; :class:`ConfigError` naming ``field`` if it is not one.

    ``field`` says where the value came from, as the user would look for it: ``--host``,
    ``discovery document field token_endpoint``, ``--redirect-uri``.
    """
    if not isinstance(value, str):
        raise ConfigError(f"{field}: expected a URL string, got {type(value).__name__}")
    if not value:
        raise ConfigError(f"{field}: the URL is empty")
    scheme_match = _SCHEME.match(value)
    if scheme_match is None or not value[scheme_match.end() :].startswith("//"):
        _check_chars(value, field)
        raise _refuse(field, value, "is not an absolute URL (expected https://host/…)")
    rest = value[scheme_match.end() + 2 :]
    split = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, tail = rest[:split], rest[split:]
    if "@" in authority:  # before anything shows the value: it may hold a password
        hidden = value[: scheme_match.end() + 2] + "<user info>@" + authority.rpartition("@")[2] + tail
        raise _refuse(field, hidden, "carries user info (user:password@); refusing to use it (not shown)")
    _check_chars(value, field)
    scheme = scheme_match.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise _refuse(field, value, f"uses {scheme}: only https is allowed (plain http for {LOOPBACK_HINT})")
    if "#" in tail:
        raise _refuse(field, value, "has a #fragment, which a URL here may not carry")
    host, port = _host(authority, value, field)
    if "[" in tail or "]" in tail:
        raise _refuse(field, value, "has a bracket outside an IPv6 literal")
    path, _, query = tail.partition("?")
    url = Url(text=value, scheme=scheme, host=host, port=port, path=path, query=query)
    if scheme == "http" and not url.is_loopback:
        raise _refuse(
            field,
            value,
            f"plain http is allowed only for loopback hosts ({LOOPBACK_HINT}): tokens would cross the network "
            "unencrypted; use https://",
        )
    return url


def parse_host(value: str, field: str = "host") -> Url:
    """A workspace or account host: ``https://`` added when missing, no path, query or credentials.

    Mirrors databricks-sdk's host fix-up (surrounding white space and trailing ``/`` dropped,
    ``https://`` added); :attr:`Url.origin` is then the canonical host.
    """
    raw = value.strip(" \t\r\n")  # what a shell or an INI file leaves around a value
    if not raw:
        raise ConfigError(f"{field}: the host is empty: pass --host https://<workspace>.cloud.databricks.com")
    if "://" not in raw:
        raw = "https://" + raw
    url = parse_url(raw, field)
    if "?" in url.text:
        raise _refuse(field, value, "must be the workspace's base URL, without a query")
    if url.path.strip("/"):
        raise _refuse(field, value, "must be the workspace's base URL, without a path")
    return url


def join(base: Url, reference: str, field: str) -> Url:
    """Resolve a redirect's ``Location`` (maybe relative) against ``base``, then parse the result.

    The reference's characters are checked before :func:`urllib.parse.urljoin` sees it, so that
    nothing is silently dropped on the way (urljoin deletes tabs and newlines).
    """
    if not isinstance(reference, str) or not reference:
        raise ConfigError(f"{field}: a redirect without a Location")
    _check_chars(reference, field)
    return parse_url(urljoin(base.text, reference), field)
