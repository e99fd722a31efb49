"""A hostile token endpoint, over real loopback HTTP: what it can make scopedauth store or show.

Every answer of a token endpoint (code exchange, refresh, client credentials, token exchange)
goes through :func:`scopedauth.oauth.token_response.parse_token_answer`. These tests feed it
what a hostile or broken server sends and check two things end to end:

* nothing is stored that the token endpoint did not issue, in a 200 answer, to our own request;
  a refused answer leaves the store as it was, and no exception but a ScopedAuthError escapes;
* whatever text the server sends reaches the terminal only through :func:`scopedauth.text.shown`
  (finding 7: an OSC 52 clipboard write and a fake ``Signed in OK`` line in
  ``error_description``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import scopedauth
from scopedauth.config import Target
from scopedauth.errors import InvalidGrantError, ScopedAuthError, TokenEndpointError
from scopedauth.grants import manage, session
from scopedauth.oauth.token_response import (
    MAX_BODY,
    MAX_LIFETIME,
    MAX_SCOPE,
    MAX_TOKEN,
    oauth_error,
    parse_token_answer,
    parse_token_response,
)
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from scopedauth.tokens import Token, utcnow
from tests.clitools import Cli, authorize_url, state_of
from tests.localhttp import LocalOAuth

OSC52 = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"
FAKE_LINE = "\r\nSigned in OK"
TARGET = Target("https://adb-1.azuredatabricks.net", scopes=("offline_access", "sql"))
ENDPOINT = "https://adb-1.azuredatabricks.net/oidc/v1/token"
GOOD = {"access_token": "eyJ.access.token", "token_type": "Bearer", "expires_in": 3600}


@pytest.fixture
def oauth_server() -> Iterator[LocalOAuth]:
    server = LocalOAuth()
    server.metadata()
    yield server
    server.close()


# -- finding 7: the terminal ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "escaped"),
    [
        ((400, {"error": "invalid_grant", "error_description": OSC52 + FAKE_LINE}), "\\x1b]52;c;"),
        ((400, {"error": "invalid_request" + OSC52 + FAKE_LINE}), "invalid_request\\x1b]52;c;"),
        ((200, {"error": "server_error", "error_description": "\x9b2J\u202eKO ni dengiS\x85\x7f"}), "\\x9b2J\\u202eKO"),
    ],
    ids=["description", "error-code", "c1-bidi"],
)
def test_cli_shows_a_hostile_error_escaped(oauth_server: LocalOAuth, answer: tuple[int, object], escaped: str) -> None:
    oauth_server.answer = answer
    cli = Cli("login", "--host", oauth_server.url, "--scopes", "sql", "--paste", "--timeout", "30")
    state = state_of(authorize_url(cli.wait_for("Paste the address")))
    cli.send(f"http://localhost:8020/?code=c0de&state={state}")
    assert cli.finish() == 6, cli.stderr
    err = cli.stderr
    for raw in ("\x1b", "\x07", "\r", "\x9b", "\x85", "\x7f", "\u202e"):
        assert raw not in err, f"{raw!r} reached the terminal:\n{err!r}"
    assert not any(line.startswith(("Signed in", "\\n")) for line in err.splitlines())
    assert "scopedauth: error: token endpoint error: " in err
    assert escaped in err
    assert len(oauth_server.token_posts) == 1
    assert cli.stdout == ""


def test_a_token_that_would_write_to_the_terminal_is_refused_without_echo(oauth_server: LocalOAuth) -> None:
    oauth_server.answer = (200, {**GOOD, "access_token": "eyJ" + OSC52})
    cli = Cli("login", "--host", oauth_server.url, "--scopes", "sql", "--paste", "--timeout", "30")
    state = state_of(authorize_url(cli.wait_for("Paste the address")))
    cli.send(f"http://localhost:8020/?code=c0de&state={state}")
    assert cli.finish() == 6, cli.stderr
    assert "access_token" in cli.stderr and "Y3VybCBldmlsLmV4YW1wbGUgfCBzaA" not in cli.stderr


# -- the parser, strict ----------------------------------------------------------------------------

#: answers an earlier, lenient parser accepted (each named for what is wrong with it)
REFUSED: dict[str, tuple[int, object]] = {
    "no-token-type": (200, {"access_token": "eyJ.a"}),
    "mac-token-type": (200, {**GOOD, "token_type": "mac"}),
    "token-type-not-a-string": (200, {**GOOD, "token_type": ["Bearer"]}),
    "space-in-access-token": (200, {**GOOD, "access_token": "eyJ a"}),
    "control-in-access-token": (200, {**GOOD, "access_token": "eyJ\x1b[2J"}),
    "non-ascii-access-token": (200, {**GOOD, "access_token": "eyJ\u202e"}),
    "padding-inside-access-token": (200, {**GOOD, "access_token": "ab=cd"}),
    "huge-access-token": (200, {**GOOD, "access_token": "a" * 16385}),
    "newline-in-refresh-token": (200, {**GOOD, "refresh_token": "r1\nr2"}),
    "space-in-refresh-token": (200, {**GOOD, "refresh_token": "r1 r2"}),
    "huge-refresh-token": (200, {**GOOD, "refresh_token": "r" * 16385}),
    "refresh-token-a-number": (200, {**GOOD, "refresh_token": 7}),
    "empty-refresh-token": (200, {**GOOD, "refresh_token": ""}),
    "expires-in-true": (200, {**GOOD, "expires_in": True}),
    "expires-in-fraction": (200, {**GOOD, "expires_in": 3600.5}),
    "expires-in-float": (200, {**GOOD, "expires_in": 3600.0}),
    "expires-in-exponent-string": (200, {**GOOD, "expires_in": "1e3"}),
    "expires-in-signed-string": (200, {**GOOD, "expires_in": "+3600"}),
    "expires-in-unicode-digits": (200, {**GOOD, "expires_in": "٣٦٠٠"}),
    "expires-in-zero": (200, {**GOOD, "expires_in": 0}),
    "expires-in-over-a-year": (200, {**GOOD, "expires_in": 366 * 86400 + 1}),
    "control-in-scope": (200, {**GOOD, "scope": "sql\x1b[2J"}),
    "quote-in-scope": (200, {**GOOD, "scope": 'sql "x"'}),
    "backslash-in-scope": (200, {**GOOD, "scope": "sql\\x"}),
    "non-ascii-scope": (200, {**GOOD, "scope": "sql\u202e"}),
    "huge-scope": (200, {**GOOD, "scope": "s" * 4097}),
    "token-in-a-400": (400, GOOD),
    "token-in-a-201": (201, GOOD),
    "token-in-a-302": (302, GOOD),
}


@pytest.mark.parametrize("answer", list(REFUSED.values()), ids=list(REFUSED))
def test_strict_parser_refuses(answer: tuple[int, object]) -> None:
    status, data = answer
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(TARGET, data, token_endpoint=ENDPOINT, status=status)
    assert info.value.error == "invalid_response"
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202e]", str(info.value))


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("expires_in", 1, 1),
        ("expires_in", "3600", 3600),
        ("expires_in", 366 * 86400, 366 * 86400),
        ("token_type", "bearer", None),
        ("token_type", "BEARER", None),
        ("access_token", "a" * 16384, None),
        ("access_token", "eyJh.bG-c_i~O+i/J==", None),
        ("refresh_token", "!#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~", None),
        ("refresh_token", "r" * 16384, None),
        ("scope", "s" * 4096, None),
        ("scope", "sql offline_access files.files iam.current-user:read", None),
        ("scope", "", None),
    ],
)
def test_strict_parser_accepts_the_edges(field: str, value: object, expected: int | None) -> None:
    token = parse_token_response(TARGET, {**GOOD, field: value}, token_endpoint=ENDPOINT, status=200)
    if field == "expires_in":
        assert token.expiry is not None
        assert (token.expiry - token.obtained_at) == timedelta(seconds=expected or 0)
    elif field in ("access_token", "refresh_token"):
        assert getattr(token, field) == value
    elif field == "scope" and value:
        assert " ".join(token.granted_scopes) == " ".join(sorted(str(value).split()))
    else:
        assert token.token_type == "Bearer"


@pytest.mark.parametrize(
    ("body", "status", "error", "says"),
    [
        (b'{"access_token": "a", "access_token": "b", "token_type": "Bearer"}', 200, "invalid_response", "twice"),
        (b'{"access_token": "eyJ.a", "token_type": "Bearer", "expires_in": NaN}', 200, "invalid_response", "JSON"),
        (b"<html>Bad gateway</html>", 502, "server_error", "HTTP 502"),
        (b"<html>Sign in to the proxy</html>", 200, "invalid_response", "JSON"),
        (b"\xff\xfe{}", 200, "invalid_response", "JSON"),
        (b'["eyJ.a"]', 200, "invalid_response", "JSON object"),
        (b'{"error": "invalid_grant", "error_description": "' + b"d" * 2000 + b'"}', 400, "invalid_grant", "d" * 400),
        (b'{"error": 7}', 400, "7", "HTTP 400"),
        (b'{"error": ""}', 401, "unknown_error", "HTTP 401"),
        (b" " * (1024 * 1024 + 1), 200, "invalid_response", "too large"),
    ],
    ids=[
        "duplicate-key",
        "nan",
        "5xx-html",
        "200-html",
        "not-utf8",
        "array",
        "long-description",
        "error-int",
        "error-empty",
        "huge",
    ],
)
def test_raw_answers_become_typed_errors(
    oauth_server: LocalOAuth, body: bytes, status: int, error: str, says: str
) -> None:
    oauth_server.answer = (status, body)
    store = TokenStore(MemoryBackend())
    outcome = paste_login(oauth_server, store)
    assert isinstance(outcome, TokenEndpointError), outcome
    assert outcome.error == error and says in str(outcome)
    assert len(str(outcome)) < 700
    assert store.backend.data == {}  # type: ignore[attr-defined]


NOT_PLAUSIBLE = "the {} is not a plausible value"
LIFETIME = "expires_in is not a whole number of seconds from 1 to 366 days"
REDIRECTED = "the token endpoint answered with a redirect, which is never followed"


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("status", "body", "kind", "error", "description"),
    [
        (200, b" " * MAX_BODY + b"x", TokenEndpointError, "invalid_response", "the answer is too large (over 1 MiB)"),
        (200, b'{"a": 1, "a": 2}', TokenEndpointError, "invalid_response", "the answer names 'a' twice"),
        (200, b'{"expires_in": Infinity}', TokenEndpointError, "invalid_response", "the answer is not JSON"),
        (200, b"\xff", TokenEndpointError, "invalid_response", "the answer is not JSON"),
        (200, b"[" * 100_000, TokenEndpointError, "invalid_response", "the answer is not JSON"),
        (500, b"<html>", TokenEndpointError, "server_error", "the token endpoint failed"),
        (499, b"<html>", TokenEndpointError, "invalid_response", "the answer is not JSON"),
        (300, b"", TokenEndpointError, "invalid_response", REDIRECTED),
        (399, b"", TokenEndpointError, "invalid_response", REDIRECTED),
        (299, b"", TokenEndpointError, "invalid_response", "the answer is not JSON"),
        (400, b"", TokenEndpointError, "invalid_response", "the answer is not JSON"),
        (200, b"[]", TokenEndpointError, "invalid_response", "the token endpoint did not return a JSON object"),
        (500, _json(GOOD), TokenEndpointError, "server_error", "the token endpoint failed"),
        (499, _json(GOOD), TokenEndpointError, "invalid_response", "a token is taken only from a 200 answer"),
        (503, _json({"error": "temporarily_unavailable"}), TokenEndpointError, "temporarily_unavailable", None),
        (400, _json({"error": "invalid_grant", "error_description": "d"}), InvalidGrantError, "invalid_grant", "d"),
        (400, _json({"error": "invalid_grant_x"}), TokenEndpointError, "invalid_grant_x", None),
        (400, _json({"error": None, "error_description": ""}), TokenEndpointError, "unknown_error", None),
        (
            200,
            _json({"token_type": "Bearer"}),
            TokenEndpointError,
            "invalid_response",
            "the answer has no access_token",
        ),
        (
            200,
            _json({**GOOD, "access_token": 1}),
            TokenEndpointError,
            "invalid_response",
            NOT_PLAUSIBLE.format("access_token"),
        ),
        (
            200,
            _json({**GOOD, "token_type": None}),
            TokenEndpointError,
            "invalid_response",
            "the token_type is not Bearer",
        ),
        (
            200,
            _json({**GOOD, "refresh_token": "a b"}),
            TokenEndpointError,
            "invalid_response",
            NOT_PLAUSIBLE.format("refresh_token"),
        ),
        (
            200,
            _json({**GOOD, "scope": "a\\b"}),
            TokenEndpointError,
            "invalid_response",
            "the scope holds characters no scope may have",
        ),
        (
            200,
            _json({**GOOD, "scope": "a\x7fb"}),
            TokenEndpointError,
            "invalid_response",
            NOT_PLAUSIBLE.format("scope"),
        ),
        (200, _json({**GOOD, "expires_in": "0"}), TokenEndpointError, "invalid_response", LIFETIME),
        (200, _json({**GOOD, "expires_in": MAX_LIFETIME + 1}), TokenEndpointError, "invalid_response", LIFETIME),
        (200, _json({**GOOD, "expires_in": "1234567890"}), TokenEndpointError, "invalid_response", LIFETIME),
        (200, _json({**GOOD, "expires_in": False}), TokenEndpointError, "invalid_response", LIFETIME),
    ],
)
def test_every_refusal_names_its_reason_and_status(
    status: int, body: bytes, kind: type[TokenEndpointError], error: str, description: str | None
) -> None:
    with pytest.raises(TokenEndpointError) as info:
        parse_token_answer(TARGET, status, body, token_endpoint=ENDPOINT)
    assert type(info.value) is kind
    assert (info.value.error, info.value.description, info.value.status) == (error, description, status)


def test_limits_are_inclusive() -> None:
    good = _json({**GOOD, "scope": "s" * MAX_SCOPE, "refresh_token": "r" * MAX_TOKEN, "expires_in": MAX_LIFETIME})
    body = good + b" " * (MAX_BODY - len(good))
    assert len(body) == MAX_BODY
    token = parse_token_answer(TARGET, 200, body, token_endpoint=ENDPOINT)
    assert token.granted_scopes == ("s" * MAX_SCOPE,) and token.refresh_token == "r" * MAX_TOKEN
    assert token.expiry is not None and token.expiry - token.obtained_at == timedelta(seconds=MAX_LIFETIME)
    one = parse_token_answer(TARGET, 200, _json({**GOOD, "expires_in": "1"}), token_endpoint=ENDPOINT)
    assert one.expiry is not None and one.expiry - one.obtained_at == timedelta(seconds=1)


def test_a_refresh_answer_keeps_what_it_does_not_restate() -> None:
    previous = Token(TARGET, "eyJ.old", refresh_token="r-old", granted_scopes=("sql",), token_endpoint=ENDPOINT)
    token = parse_token_answer(TARGET, 200, _json(GOOD), token_endpoint="https://x/t", previous=previous)
    assert (token.access_token, token.refresh_token, token.granted_scopes) == ("eyJ.access.token", "r-old", ("sql",))
    assert token.target == TARGET and token.token_endpoint == "https://x/t" and token.token_type == "Bearer"
    assert token.expiry is not None and token.expiry - token.obtained_at == timedelta(seconds=3600)
    fresh = parse_token_answer(TARGET, 200, _json(GOOD), token_endpoint=ENDPOINT)
    assert fresh.refresh_token is None and fresh.granted_scopes == TARGET.scopes
    rotated = {**GOOD, "refresh_token": "r-new", "scope": "sql files.files"}
    again = parse_token_answer(TARGET, 200, _json(rotated), token_endpoint=ENDPOINT, previous=previous)
    assert (again.refresh_token, again.granted_scopes) == ("r-new", ("files.files", "sql"))
    lasting = {k: v for k, v in GOOD.items() if k != "expires_in"}
    assert parse_token_answer(TARGET, 200, _json(lasting), token_endpoint=ENDPOINT).expiry is None


def test_the_default_status_is_200() -> None:
    assert parse_token_response(TARGET, GOOD, token_endpoint=ENDPOINT).access_token == "eyJ.access.token"


@pytest.mark.parametrize(
    ("error", "description", "shown_error", "shown_description"),
    [
        ("invalid_request", "echo S3CRET and S3CRET", "invalid_request", "echo <redacted> and <redacted>"),
        ("S3CRET", None, "<redacted>", None),
        ("invalid_grant", "", "invalid_grant", None),
    ],
)
def test_our_secrets_are_cut_from_error_text(
    error: str, description: str | None, shown_error: str, shown_description: str | None
) -> None:
    exc = oauth_error(error, description, 400, ("", "S3CRET"))
    assert (exc.error, exc.description, exc.status) == (shown_error, shown_description, 400)
    assert isinstance(exc, InvalidGrantError) == (error == "invalid_grant")


def test_secrets_the_server_echoes_are_cut_before_the_description_is_shortened(oauth_server: LocalOAuth) -> None:
    """A description is bounded to 500 characters: the secret must go first, or a prefix of it survives."""
    store = TokenStore(MemoryBackend())
    stored = _expired(oauth_server, refresh_token="dapi-refresh-" + "s" * 600)
    store.save(stored)
    oauth_server.answer = (400, {"error": "invalid_request", "error_description": "x" * 10 + stored.refresh_token})
    with pytest.raises(TokenEndpointError) as info:
        scopedauth.get_token(stored.target, store=store)
    assert "dapi-refresh" not in str(info.value) and "<redacted>" in str(info.value)


# -- end to end: nothing is stored that the token endpoint did not issue to our own request ------

hostile_text = st.one_of(
    st.sampled_from(["", "eyJ.issued", OSC52, FAKE_LINE, "a" * 20000, "\u202e", "r1 r2", "Bearer", "bearer"]),
    st.text(max_size=40),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), hostile_text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=8,
)
fields = {
    "access_token": st.one_of(st.just("eyJ.issued.token"), json_values),
    "token_type": st.one_of(st.sampled_from(["Bearer", "bearer", "mac"]), json_values),
    "expires_in": st.one_of(st.integers(-10, 10**8), st.sampled_from(["3600", "1e3", "0x10"]), json_values),
    "refresh_token": st.one_of(st.just("dapi-issued-refresh"), json_values),
    "scope": st.one_of(st.sampled_from(["sql offline_access", "sql", 'a"b', ""]), json_values),
    "error": json_values,
    "error_description": json_values,
}
hostile_answers = st.tuples(
    st.sampled_from([200, 200, 200, 201, 400, 401, 500, 503]),
    st.one_of(
        json_values,
        st.fixed_dictionaries({}, optional=fields),
        st.fixed_dictionaries(
            {"access_token": st.just("eyJ.issued.token"), "token_type": st.just("Bearer")},
            optional={k: v for k, v in fields.items() if k not in ("access_token", "token_type")},
        ),
    ),
)
E2E = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def paste_login(server: LocalOAuth, store: TokenStore) -> Token | ScopedAuthError:
    said: list[str] = []

    def read_line(_prompt: str) -> str:
        state = re.search(r"[?&]state=([^&\s]+)", "\n".join(said))
        assert state is not None
        return f"http://localhost:8020/?code=c0de&state={state[1]}"

    try:
        return scopedauth.login(
            host=server.url,
            scopes="sql offline_access",
            store=store,
            mode="paste",
            read_line=read_line,
            say=said.append,
        )
    except ScopedAuthError as exc:
        return exc


def _expired(server: LocalOAuth, refresh_token: str = "dapi-old-refresh") -> Token:  # noqa: S107
    target = Target(server.url, scopes=("offline_access", "sql"))
    return Token(
        target,
        "eyJ.old.access",
        refresh_token=refresh_token,
        expiry=utcnow() - timedelta(minutes=5),
        granted_scopes=target.scopes,
        token_endpoint=f"{server.url}/oidc/v1/token",
    )


def _refresh(server: LocalOAuth, store: TokenStore) -> Token | ScopedAuthError:
    old = _expired(server)
    store.save(old)
    try:
        return scopedauth.get_token(old.target, store=store)
    except ScopedAuthError as exc:
        return exc


def _client_credentials(server: LocalOAuth, store: TokenStore, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SP_SECRET", "sp-secret-value")
    try:
        return manage.login(
            host=server.url, client_id="sp-client", scopes="sql", client_secret_env="SP_SECRET", store=store
        )
    except ScopedAuthError as exc:
        return exc


def _token_exchange(server: LocalOAuth, store: TokenStore, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SUBJECT", "eyJ.subject.token")
    try:
        return manage.exchange(host=server.url, scopes="sql", subject_token_env="SUBJECT", store=store)
    except ScopedAuthError as exc:
        return exc


GRANTS: dict[str, Callable[[LocalOAuth, TokenStore, pytest.MonkeyPatch], Any]] = {
    "code": lambda server, store, _mp: paste_login(server, store),
    "refresh": lambda server, store, _mp: _refresh(server, store),
    "client-credentials": _client_credentials,
    "token-exchange": _token_exchange,
}


def _stored_secrets(store: TokenStore) -> set[str]:
    found: set[str] = set()
    for key, value in store.backend.data.items():  # type: ignore[attr-defined]
        if key.startswith(".") or "#" in key:
            continue
        record = json.loads(value)
        found.update(v for v in (record.get("access_token"), record.get("refresh_token")) if v)
    return found


@pytest.mark.parametrize("grant", list(GRANTS))
@E2E
@example(answer=(200, {"access_token": "INJECTED", "token_type": "Bearer", "expires_in": True}))
@example(answer=(400, {"access_token": "INJECTED", "token_type": "Bearer"}))
@example(answer=(200, {"access_token": "eyJ.issued.token", "token_type": "Bearer", "refresh_token": "x\ny"}))
@given(answer=hostile_answers)
def test_nothing_is_stored_that_the_endpoint_did_not_issue(
    oauth_server: LocalOAuth, monkeypatch: pytest.MonkeyPatch, grant: str, answer: tuple[int, object]
) -> None:
    status, body = answer
    oauth_server.answer = answer
    oauth_server.token_posts.clear()
    session.forget_memory()
    store = TokenStore(MemoryBackend())
    outcome = GRANTS[grant](oauth_server, store, monkeypatch)  # anything but a ScopedAuthError fails here
    retried = grant == "client-credentials" and status >= 500  # the one grant safe to send again
    assert len(oauth_server.token_posts) == 1 or (retried and len(oauth_server.token_posts) == 4)
    before = {"eyJ.old.access", "dapi-old-refresh"} if grant == "refresh" else set()
    if isinstance(outcome, ScopedAuthError):
        assert _stored_secrets(store) <= before, f"{outcome!r} but the store gained a token"
        for raw in ("\x1b", "\x07", "\r", "\n\n"):
            assert raw not in str(outcome).replace("\nRun: ", " ")
        return
    assert isinstance(outcome, Token) and status == 200 and isinstance(body, dict)
    assert outcome.access_token == body["access_token"]
    issued = {body["access_token"], body.get("refresh_token")} - {None}
    assert _stored_secrets(store) <= issued | before
    assert outcome.access_token in _stored_secrets(store)


@settings(max_examples=300, deadline=None)
@example(status=200, body=b'{"access_token": "eyJ.a", "token_type": "Bearer", "expires_in": 1e400}')
@example(status=200, body=b'{"access_token": "eyJ.a", "token_type": "Bearer", "expires_in": ' + b"9" * 5000 + b"}")
@given(
    status=st.sampled_from([200, 200, 201, 302, 400, 401, 500]),
    body=st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())),
)
def test_any_raw_answer_is_a_token_or_a_typed_error(status: int, body: bytes) -> None:
    """The parser's whole domain: any bytes with any status; nothing but TokenEndpointError escapes."""
    try:
        token = parse_token_answer(TARGET, status, body, token_endpoint=ENDPOINT)
    except TokenEndpointError as exc:
        for text in (exc.error, exc.description or ""):
            assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202e]", text)
        return
    assert status == 200 and token.token_type == "Bearer" and token.access_token
