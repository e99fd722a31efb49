"""Property tests: every parser facing the outside world answers with a value or a typed error.

* ``callback.parse_query`` + ``judge``: any query → a code, or an :class:`AuthorizationError`
  (denied, stray, forged, malformed); never another exception. A code comes back only when the
  query carries exactly our ``state``.
* ``callback.parse_pasted``: any pasted text → ``(url, code)`` or :class:`AuthorizationError`.
* ``oauth.parse_token_response``: any JSON value → :class:`Token` or :class:`TokenEndpointError`.
* ``tokens.Token.from_json``: any text → :class:`Token` or :class:`StorageError`.
* A :class:`TokenStore` over :class:`MemoryBackend` never gains a record from a failing input:
  real paste-mode logins against a loopback token endpoint that answers with fuzzed bodies,
  and corrupt stored records read back through ``get_token``.

Inputs that once broke a property (lone surrogates in a pasted state, ``http://localhost:99999``,
an unclosed ``[``, ``expires_in`` of 10**400 or ``[3600]``) are pinned with ``@example``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import scopedauth
from scopedauth.config import Target
from scopedauth.errors import (
    AuthorizationDeniedError,
    AuthorizationError,
    ScopedAuthError,
    StorageError,
    TokenEndpointError,
)
from scopedauth.grants import manage, session
from scopedauth.oauth.callback import (
    MAX_QUERY,
    Callback,
    IgnoredCallbackError,
    Verdict,
    judge,
    parse_pasted,
    parse_query,
)
from scopedauth.oauth.client import parse_token_response
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from scopedauth.text import has_controls
from scopedauth.tokens import Token, utcnow
from tests.localhttp import LoopbackServer, QuietHandler

STATE = "S1gn3d-state_value.of~43-characters-xxxxxxx"
REDIRECT = "http://localhost:8020"
TARGET = Target("https://adb-1.azuredatabricks.net", scopes=("offline_access", "sql"))
ENDPOINT = "https://adb-1.azuredatabricks.net/oidc/v1/token"

PURE = settings(max_examples=300, deadline=None)
E2E = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- strategies --------------------------------------------------------------------------------

#: every code point, lone surrogates included (``sys.stdin`` under surrogateescape yields them)
any_text = st.text(
    alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"], min_codepoint=0xD800, max_codepoint=0xDFFF)),
    max_size=300,
)
#: what a browser or terminal paste can hold: no lone surrogates
plain_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300)


latin1_text = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=300)
param_names = st.sampled_from(["code", "state", "error", "error_description", "session_state", "iss", ""])
param_values = st.one_of(
    st.just(STATE),
    st.sampled_from(["", "access_denied", "abc", "%", "%zz", "+", "&", "=", ";", "\x00", "x" * 4097]),
    plain_text,
)


def _raw_queries(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Query strings built piecewise, sometimes percent-encoded, sometimes raw and broken."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        pairs = draw(st.lists(st.tuples(param_names, values), max_size=8))
        encode = draw(st.booleans())
        parts = [urlencode({k: v}, errors="surrogatepass") if encode else f"{k}={v}" for k, v in pairs]
        return draw(st.sampled_from(["&", ";", "&&"])).join(parts)

    return build()


def raw_queries() -> st.SearchStrategy[str]:
    return _raw_queries(param_values)


def any_raw_queries() -> st.SearchStrategy[str]:
    return _raw_queries(st.one_of(param_values, any_text))


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    plain_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(plain_text, inner, max_size=4),
    max_leaves=12,
)

token_fields = {
    "access_token": st.one_of(st.just("eyJ.access.token"), json_values),
    "token_type": st.one_of(st.sampled_from(["Bearer", "bearer", "BEARER", "mac", ""]), json_values),
    "expires_in": st.one_of(st.integers(min_value=-10, max_value=10**9), st.sampled_from(["3600", "1e3"]), json_values),
    "refresh_token": st.one_of(st.just("dapi-refresh"), json_values),
    "scope": st.one_of(st.sampled_from(["sql offline_access", "sql,files.files", 'a"b', ""]), json_values),
    "error": json_values,
    "error_description": json_values,
    "id_token": json_values,
}
token_responses = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional=token_fields),
    st.fixed_dictionaries(
        {"access_token": st.just("eyJ.access.token")},
        optional={k: v for k, v in token_fields.items() if k != "access_token"},
    ),
)
#: the numeric fields authlib converts before we see the body, with the shapes a server may send
bad_number_fields = st.fixed_dictionaries(
    {"access_token": st.just("eyJ.access.token")},
    optional={
        "expires_in": st.one_of(json_values, st.integers(min_value=10**300, max_value=10**400)),
        "expires_at": json_values,
    },
)


def valid_record() -> dict[str, Any]:
    return json.loads(
        Token(
            target=TARGET,
            access_token="eyJ.stored.access",
            refresh_token="dapi-stored-refresh",
            expiry=utcnow() + timedelta(hours=1),
            granted_scopes=("offline_access", "sql"),
            token_endpoint=ENDPOINT,
        ).to_json()
    )


@st.composite
def mutated_records(draw: st.DrawFn) -> str:
    """A valid v1 record with fields deleted or replaced by arbitrary JSON, or added."""
    record = valid_record()
    for name in draw(st.lists(st.sampled_from([*record, "needs_login", "extra"]), max_size=4, unique=True)):
        if draw(st.booleans()):
            record.pop(name, None)
        else:
            record[name] = draw(
                st.one_of(json_values, st.sampled_from(["", "2024-02-30T00:00:00Z", "0001-01-01T00:00:00+01:00"]))
            )
    return json.dumps(record)


record_texts = st.one_of(any_text, mutated_records(), json_values.map(json.dumps))


@st.composite
def pasted_urls(draw: st.DrawFn, valid_authority: bool) -> str:
    """Addresses shaped like the redirect, right or wrong in every part."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "ftp", ""]))
    host = draw(st.sampled_from(["localhost", "127.0.0.1", "[::1]", "evil.example", "LOCALHOST", ""]))
    if valid_authority:
        port = draw(st.sampled_from(["", ":8020", ":8021", ":80", ":0", ":65535"]))
    else:
        port = draw(st.sampled_from([":99999", ":-1", ":abc", ":", ":8020]"]))
        host = draw(st.sampled_from([host, "[::1", "[not-ip]", "a\uff03b@x"]))
    path = draw(st.sampled_from(["", "/", "/callback", "//", "/?"]))
    query = draw(st.one_of(raw_queries(), st.just(urlencode({"code": "c0de", "state": STATE}))))
    space = draw(st.sampled_from(["", " ", "\n", "\t"]))
    return f"{space}{scheme}://{host}{port}{path}?{query}{space}"


# -- outcomes ----------------------------------------------------------------------------------


def judged(query: str) -> str | AuthorizationError:
    """The code, or the typed error; anything else propagates and fails the property."""
    try:
        return judge(parse_query(query), STATE)
    except AuthorizationError as exc:
        return exc


def check_judged(query: str) -> None:
    outcome = judged(query)
    if isinstance(outcome, str):
        values = parse_qs(query, keep_blank_values=True)
        assert values.get("state") == [STATE], "a code was accepted without exactly our state"
        assert "error" not in values or values["error"] == [""]
        assert outcome and len(values.get("code", [])) == 1
    elif isinstance(outcome, AuthorizationDeniedError):
        assert parse_qs(query, keep_blank_values=True).get("state") == [STATE]
        assert outcome.error
    else:
        assert outcome.args and isinstance(outcome.args[0], str)
        if isinstance(outcome, IgnoredCallbackError):
            assert outcome.verdict in (Verdict.STRAY, Verdict.FORGED)


def check_pasted(text: str) -> None:
    try:
        url, code = parse_pasted(text, REDIRECT, STATE)
    except AuthorizationError as exc:
        assert isinstance(str(exc), str)
        return
    assert url == text.strip().partition("#")[0]  # a fragment never travels on
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.port) == ("http", "localhost", 8020)
    assert parse_qs(parts.query, keep_blank_values=True)["state"] == [STATE]
    assert code == judge(parse_query(parts.query), STATE)


# -- callback parsing --------------------------------------------------------------------------


@PURE
@given(st.one_of(latin1_text, raw_queries()))
def test_listener_queries_get_a_code_or_a_typed_error(query: str) -> None:
    """The listener decodes the raw query as latin-1: that whole domain must be handled."""
    check_judged(query)


@PURE
@example("code=c&state=\udc80")
@given(st.one_of(any_text, any_raw_queries(), st.builds("code={}&state={}".format, any_text, any_text)))
def test_any_str_query_gets_a_code_or_a_typed_error(query: str) -> None:
    check_judged(query)


@PURE
@given(
    code=plain_text.filter(lambda c: 0 < len(c) <= 4096 and not has_controls(c)),
    extras=st.dictionaries(st.sampled_from(["iss", "session_state", "x", "y"]), plain_text, max_size=4),
)
def test_a_well_formed_callback_yields_exactly_its_code(code: str, extras: dict[str, str]) -> None:
    query = urlencode({"code": code, "state": STATE, **extras})
    assume(len(query) <= MAX_QUERY)
    assert judge(parse_query(query), STATE) == code
    wrong = urlencode({"code": code, "state": STATE[:-1] + "y", **extras})
    with pytest.raises(IgnoredCallbackError) as info:
        judge(parse_query(wrong), STATE)
    assert info.value.verdict is Verdict.FORGED


@PURE
@given(st.from_type(Callback))
def test_judge_on_any_callback_object(callback: Callback) -> None:
    try:
        code = judge(callback, STATE)
    except AuthorizationError:
        return
    assert callback.state == STATE and callback.error is None and code == (callback.code or "")


@PURE
@example("http://localhost:99999/?code=c&state=" + STATE)
@example("http://[::1/?code=c&state=" + STATE)
@example("http://localhost:8020/?code=c&state=\udc80")
@given(st.one_of(any_text, pasted_urls(valid_authority=True), pasted_urls(valid_authority=False)))
def test_any_pasted_text_gives_url_and_code_or_a_typed_error(text: str) -> None:
    check_pasted(text)


# -- token endpoint responses ------------------------------------------------------------------


def check_token_response(data: object) -> Token | None:
    try:
        token = parse_token_response(TARGET, data, token_endpoint=ENDPOINT)
    except TokenEndpointError as exc:
        assert exc.error and len(exc.error) <= 100
        assert exc.description is None or len(exc.description) <= 500
        return None
    assert isinstance(data, dict) and "error" not in data
    assert token.access_token == data["access_token"] and token.access_token
    assert token.token_type == "Bearer"
    if token.expiry is not None:
        # expires_in > 0 is required; a sub-microsecond one rounds to an already expired token
        assert timedelta(0) <= token.expiry - token.obtained_at <= timedelta(days=366)
    assert token.granted_scopes == tuple(sorted(token.granted_scopes))
    again = Token.from_json(token.to_json())  # whatever we accept, we can store and read back
    assert again.to_json() == token.to_json()
    return token


@PURE
@given(token_responses)
def test_token_response_gives_a_token_or_a_typed_error(data: object) -> None:
    check_token_response(data)


@PURE
@example({"access_token": "eyJ.access.token", "expires_in": 10**400})
@given(bad_number_fields)
def test_huge_expires_in_gives_a_typed_error(data: object) -> None:
    check_token_response(data)


# -- stored records ----------------------------------------------------------------------------


@PURE
@given(record_texts)
def test_stored_text_gives_a_token_or_a_storage_error(text: str) -> None:
    try:
        token = Token.from_json(text, where="fuzz")
    except StorageError as exc:
        assert "fuzz" in str(exc)
        return
    assert isinstance(token.access_token, str) and isinstance(token.target, Target)
    assert all(isinstance(s, str) for s in (*token.target.scopes, *token.granted_scopes))
    assert "<redacted>" in repr(token)
    assert isinstance(token.is_valid(), bool) and isinstance(token.wants_refresh(), bool)
    assert set(token.missing_scopes) <= set(token.target.scopes)
    assert Token.from_json(token.to_json()).to_json() == token.to_json()


# -- the store never gains a record from a failing input ---------------------------------------


class FuzzServer(LoopbackServer):
    """Workspace discovery and a token endpoint on loopback answering whatever the test sets."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        self.token_requests = 0
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if self.path == "/oidc/.well-known/oauth-authorization-server":
                    meta = {
                        "issuer": f"{outer.url}/oidc",
                        "authorization_endpoint": f"{outer.url}/oidc/v1/authorize",
                        "token_endpoint": f"{outer.url}/oidc/v1/token",
                    }
                    self.send_body(200, meta)
                else:
                    self.send_body(404, b"{}")

            def do_POST(self) -> None:
                self.read_body()
                outer.token_requests += 1
                self.send_body(outer.status, outer.body)

        super().__init__(Handler)


@pytest.fixture
def fuzz_server() -> Iterator[FuzzServer]:
    server = FuzzServer()
    yield server
    server.close()


def paste_login(server: FuzzServer, paste: Any) -> tuple[TokenStore, Token | ScopedAuthError]:
    """A real ``login --paste`` against the server; ``paste(state)`` gives the pasted text."""
    store = TokenStore(MemoryBackend())
    said: list[str] = []

    def read_line(_prompt: str) -> str:
        state = re.search(r"[?&]state=([^&\s]+)", "\n".join(said))
        assert state is not None, said
        return paste(state[1])

    session.forget_memory()
    try:
        return store, scopedauth.login(
            host=server.url,
            scopes="sql offline_access",
            store=store,
            mode="paste",
            read_line=read_line,
            say=said.append,
        )
    except ScopedAuthError as exc:
        return store, exc


def assert_store_matches(store: Any, outcome: Token | ScopedAuthError) -> None:
    data = store.backend.data
    if isinstance(outcome, ScopedAuthError):
        assert data == {}, f"{type(outcome).__name__} but the store gained {sorted(data)}"
    else:
        assert store.load(outcome.target).to_json() == outcome.to_json()


@E2E
@given(body=token_responses, status=st.sampled_from([200, 200, 200, 400, 401, 500]))
def test_store_gains_a_record_only_from_a_good_token_response(
    fuzz_server: FuzzServer, body: object, status: int
) -> None:
    fuzz_server.status, fuzz_server.body, fuzz_server.token_requests = status, json.dumps(body).encode(), 0
    store, outcome = paste_login(fuzz_server, lambda state: f"http://localhost:8020/?code=c0de&state={state}")
    assert fuzz_server.token_requests == 1
    assert_store_matches(store, outcome)
    if not isinstance(outcome, ScopedAuthError):
        assert status < 500 and isinstance(body, dict) and outcome.access_token == body["access_token"]


@E2E
@example(body={"access_token": "eyJ.access.token", "expires_in": [3600]})
@example(body={"access_token": "eyJ.access.token", "expires_at": {"at": 1}})
@example(body={"access_token": "eyJ.access.token", "expires_in": float("inf")})
@given(body=bad_number_fields)
def test_store_gains_nothing_from_malformed_numbers_over_http(fuzz_server: FuzzServer, body: object) -> None:
    fuzz_server.body = json.dumps(body).encode()
    store, outcome = paste_login(fuzz_server, lambda state: f"http://localhost:8020/?code=c0de&state={state}")
    assert_store_matches(store, outcome)


@E2E
@example(text="http://localhost:8020/?code=\udc80&state=" + STATE)
@example(text="http://localhost:99999/?code=c&state=" + STATE)
@given(
    text=st.one_of(
        any_text,
        pasted_urls(valid_authority=True),
        pasted_urls(valid_authority=False),
        st.builds(("http://localhost:8020/?code={}&state=" + STATE).format, any_text),
    )
)
def test_store_gains_nothing_from_a_bad_paste(fuzz_server: FuzzServer, text: str) -> None:
    fuzz_server.token_requests = 0
    fuzz_server.body = json.dumps(
        {"access_token": "eyJ.access.token", "token_type": "Bearer", "expires_in": 3600}
    ).encode()
    store, outcome = paste_login(fuzz_server, lambda state: text.replace(STATE, state))
    if isinstance(outcome, ScopedAuthError):
        # AuthorizationError, or TokenEndpointError("invalid_response") for a code with a lone
        # surrogate that parse_pasted accepts but requests cannot encode: either way, no request
        assert isinstance(outcome, (AuthorizationError, TokenEndpointError)), repr(outcome)
        assert fuzz_server.token_requests == 0, "a rejected paste must not reach the token endpoint"
    else:
        assert fuzz_server.token_requests == 1
    assert_store_matches(store, outcome)


@E2E
@given(text=record_texts)
def test_a_corrupt_record_is_never_rewritten_by_reads(text: str) -> None:
    backend = MemoryBackend()
    backend.data[TARGET.key] = text
    before = dict(backend.data)
    store = TokenStore(backend)
    session.forget_memory()
    try:
        token = store.load(TARGET)
    except StorageError:
        token = None
        with pytest.raises(StorageError):
            scopedauth.get_token(TARGET, store=store)
        entries = manage.status(store, targets=[TARGET])
        assert entries[0].error and entries[0].token is None
    assert backend.data == before, "a read path wrote to the store"
    if token is not None:
        assert token.target == TARGET
