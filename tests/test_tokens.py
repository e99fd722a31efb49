"""The Token record: JSON v1, strict decoding, expiry arithmetic, and a repr that never leaks."""

from __future__ import annotations

import json
import time
import traceback
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scopedauth.config import OFFLINE_ACCESS, Target
from scopedauth.errors import StorageError
from scopedauth.tokens import (
    CLIENT_CREDENTIALS,
    EXPIRED_LEEWAY,
    FORMAT_VERSION,
    REFRESH_AHEAD,
    TOKEN_EXCHANGE,
    Grant,
    Token,
    format_time,
    parse_time,
)

UTC = timezone.utc
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
AT = "eyJhbGciOi.ACCESS-SECRET-4f7c1e.sig"
RT = "dbrt-REFRESH-SECRET-9a8b7c"
WS = Target("https://dbc-1.cloud.databricks.com", scopes=("sql", "files.files", OFFLINE_ACCESS))
ACCOUNT = Target(
    "https://accounts.cloud.databricks.com", client_id="my-app", scopes=("all-apis",), account_id="0d9c-11aa"
)
RECORD_FIELDS = {
    "version",
    "host",
    "account_id",
    "client_id",
    "scopes",
    "granted_scopes",
    "token_type",
    "access_token",
    "refresh_token",
    "expiry",
    "obtained_at",
    "token_endpoint",
}


def make(**changes: Any) -> Token:
    base = Token(
        target=WS,
        access_token=AT,
        token_type="Bearer",
        expiry=NOW + timedelta(hours=1),
        refresh_token=RT,
        granted_scopes=("files.files", OFFLINE_ACCESS, "sql"),
        token_endpoint="https://dbc-1.cloud.databricks.com/oidc/v1/token",
        obtained_at=NOW,
    )
    return base.replace(**changes)


def record(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(make().to_json())
    for name, value in changes.items():
        if value is ...:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def assert_no_secret(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc))
    assert AT not in text
    assert RT not in text


# -- JSON v1 ---------------------------------------------------------------------------------------

ROUND_TRIP = [
    make(),
    make(target=ACCOUNT, granted_scopes=("all-apis",), token_type="bearer"),
    make(expiry=None, refresh_token=None, granted_scopes=(), token_endpoint=""),
    make(needs_login=True),
    make(target=Target("http://127.0.0.1:8999", client_id="c"), granted_scopes=()),
    make(
        expiry=datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC),
        obtained_at=datetime(2030, 12, 31, 22, 59, 59, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize("token", ROUND_TRIP)
def test_json_round_trip_keeps_every_field(token: Token) -> None:
    text = token.to_json()
    back = Token.from_json(text)
    assert back == token
    assert back.target.key == token.target.key
    for name in (
        "access_token",
        "token_type",
        "expiry",
        "refresh_token",
        "granted_scopes",
        "token_endpoint",
        "obtained_at",
        "needs_login",
    ):
        assert getattr(back, name) == getattr(token, name), name
    assert back.to_json() == text


def test_json_v1_layout() -> None:
    data = json.loads(make(target=ACCOUNT).to_json())
    assert set(data) == RECORD_FIELDS
    assert data == {
        "version": 1,
        "host": "https://accounts.cloud.databricks.com",
        "account_id": "0d9c-11aa",
        "client_id": "my-app",
        "scopes": ["all-apis"],
        "granted_scopes": ["files.files", "offline_access", "sql"],
        "token_type": "Bearer",
        "access_token": AT,
        "refresh_token": RT,
        "expiry": "2026-01-02T04:04:05Z",
        "obtained_at": "2026-01-02T03:04:05Z",
        "token_endpoint": "https://dbc-1.cloud.databricks.com/oidc/v1/token",
    }
    assert FORMAT_VERSION == 1


def test_needs_login_is_written_only_when_set() -> None:
    assert "needs_login" not in json.loads(make().to_json())
    assert json.loads(make(needs_login=True).to_json())["needs_login"] is True


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"expiry": ...}, lambda t: t.expiry is None),
        ({"expiry": None}, lambda t: t.expiry is None),
        ({"refresh_token": ...}, lambda t: t.refresh_token is None),
        ({"account_id": ...}, lambda t: t.target.account_id is None),
        ({"scopes": ...}, lambda t: t.target.scopes == ()),
        ({"granted_scopes": ...}, lambda t: t.granted_scopes == ()),
        ({"token_endpoint": ...}, lambda t: t.token_endpoint == ""),
        ({"token_type": ""}, lambda t: t.token_type == "Bearer"),
        ({"needs_login": False}, lambda t: t.needs_login is False),
        ({"scopes": ["sql", "all-apis", "sql"]}, lambda t: t.target.scopes == ("all-apis", "sql")),
        ({"expiry": "2026-01-02T05:04:05+01:00"}, lambda t: t.expiry == NOW + timedelta(hours=1)),
        ({"expiry": "2026-01-02T04:04:05"}, lambda t: t.expiry == NOW + timedelta(hours=1)),
        ({"unknown_future_field": [1, 2]}, lambda t: t.access_token == AT),
    ],
)
def test_optional_fields_and_lenient_values(changes: dict[str, Any], check: Any) -> None:
    assert check(Token.from_json(json.dumps(record(**changes))))


def test_missing_obtained_at_means_now() -> None:
    before = datetime.now(UTC)
    token = Token.from_json(json.dumps(record(obtained_at=...)))
    assert before - timedelta(seconds=1) <= token.obtained_at <= datetime.now(UTC) + timedelta(seconds=1)


@pytest.mark.parametrize("version", [..., None, 0, 2, -1, "1", 1.0, 1.5, True, [1], {"v": 1}, AT])
def test_version_missing_or_other_is_a_storage_error(version: Any) -> None:
    with pytest.raises(StorageError, match="format version") as info:
        Token.from_json(json.dumps(record(version=version)), where="keyring entry X")
    assert "keyring entry X" in str(info.value)
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "{",
        "not json",
        "{'single': 'quotes'}",
        make().to_json()[:-1],
        make().to_json()[:40],
        make().to_json()[: make().to_json().index(AT) + 5],
        make().to_json() + "}",
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_corrupt_json_is_a_storage_error(text: str) -> None:
    with pytest.raises(StorageError, match="not JSON") as info:
        Token.from_json(text)
    assert_no_secret(info.value)


@pytest.mark.parametrize("text", ["null", "[]", "1", '"a string"', "true", "NaN", json.dumps([record()])])
def test_non_dict_json_is_a_storage_error(text: str) -> None:
    with pytest.raises(StorageError, match="not a scopedauth record") as info:
        Token.from_json(text)
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"host": ...}, "host"),
        ({"host": 1}, "host"),
        ({"host": None}, "host"),
        ({"client_id": []}, "client_id"),
        ({"client_id": ...}, "client_id"),
        ({"account_id": 5}, "account_id"),
        ({"scopes": "sql"}, "scopes"),
        ({"scopes": ""}, "scopes"),
        ({"scopes": [1]}, "scopes"),
        ({"scopes": {"sql": True}}, "scopes"),
        ({"scopes": ['bad"scope']}, "scopes"),
        ({"scopes": [AT + '"']}, "scopes"),
        ({"granted_scopes": 0}, "granted_scopes"),
        ({"granted_scopes": [RT + "\\"]}, "granted_scopes"),
        ({"access_token": ...}, "access_token"),
        ({"access_token": None}, "access_token"),
        ({"access_token": 5}, "access_token"),
        ({"access_token": [AT]}, "access_token"),
        ({"refresh_token": 5}, "refresh_token"),
        ({"refresh_token": {"value": RT}}, "refresh_token"),
        ({"token_type": None}, "token_type"),
        ({"token_type": 1}, "token_type"),
        ({"expiry": 1767323045}, "expiry"),
        ({"expiry": "tomorrow"}, "expiry"),
        ({"expiry": AT}, "expiry"),
        ({"expiry": RT}, "expiry"),
        ({"expiry": "2026-13-01T00:00:00Z"}, "expiry"),
        ({"expiry": "0001-01-01T00:00:00+01:00"}, "expiry"),
        ({"obtained_at": "x"}, "obtained_at"),
        ({"obtained_at": AT}, "obtained_at"),
        ({"token_endpoint": 1}, "token_endpoint"),
        ({"needs_login": "yes"}, "needs_login"),
        ({"needs_login": 1}, "needs_login"),
    ],
)
def test_wrong_field_types_are_storage_errors_that_never_show_a_token(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(StorageError, match="corrupt") as info:
        Token.from_json(json.dumps(record(**changes)), where="keyring entry X")
    message = str(info.value)
    assert repr(field) in message
    assert "keyring entry X" in message
    assert_no_secret(info.value)


# -- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05Z", NOW),
        ("2026-01-02T03:04:05z", NOW),
        ("2026-01-02T03:04:05+00:00", NOW),
        ("2026-01-02T05:04:05+02:00", NOW),
        ("2026-01-01T22:04:05-05:00", NOW),
        ("2026-01-02T03:04:05", NOW),
        ("2026-01-02T03:04:05.250Z", NOW + timedelta(milliseconds=250)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    value = parse_time(text)
    assert value == expected
    assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text", ["", "now", "2026-13-01T00:00:00Z", "2026-01-02T03:04:05+25:00", "0001-01-01T00:00:00+01:00"]
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (NOW, "2026-01-02T03:04:05Z"),
        (NOW + timedelta(microseconds=999_999), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05Z"),  # naive = UTC, as parse_time reads it
    ],
)
def test_format_time(moment: datetime, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")  # a naive value must not be read as local time
    time.tzset()
    try:
        assert format_time(moment) == text
        assert parse_time(format_time(moment)) == moment.replace(microsecond=0, tzinfo=moment.tzinfo or UTC)
    finally:
        monkeypatch.undo()
        time.tzset()


# -- validity and refresh-ahead ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "valid"),
    [
        (timedelta(hours=1), True),
        (timedelta(seconds=41), True),
        (EXPIRED_LEEWAY + timedelta(microseconds=1), True),
        (EXPIRED_LEEWAY, False),
        (timedelta(seconds=39), False),
        (timedelta(seconds=30), False),
        (timedelta(0), False),
        (timedelta(seconds=-10), False),
        (None, True),  # the server gave no expiry
    ],
)
def test_is_valid_with_40s_leeway(left: timedelta | None, valid: bool) -> None:
    assert timedelta(seconds=40) == EXPIRED_LEEWAY
    token = make(expiry=None if left is None else NOW + left)
    assert token.is_valid(NOW) is valid
    assert token.remaining(NOW) == left


@pytest.mark.parametrize(
    "token",
    [
        make(needs_login=True),
        make(needs_login=True, expiry=None),
        make(needs_login=True, expiry=NOW + timedelta(days=365)),
        make(access_token=""),
    ],
)
def test_needs_login_and_empty_tokens_are_never_valid(token: Token) -> None:
    assert not token.is_valid(NOW)
    assert not token.is_valid(NOW - timedelta(days=1))


def test_needs_login_is_not_refreshable_and_survives_json() -> None:
    dead = make(needs_login=True)
    assert make().refreshable
    assert not dead.refreshable
    assert not make(refresh_token=None).refreshable
    back = Token.from_json(dead.to_json())
    assert back.needs_login
    assert not back.is_valid(NOW)


@pytest.mark.parametrize(
    ("lifetime", "left", "wants"),
    [
        # 1 h token: the window is min(5 min, 30 min) = 5 min
        (timedelta(hours=1), timedelta(minutes=30), False),
        (timedelta(hours=1), REFRESH_AHEAD + timedelta(seconds=1), False),
        (timedelta(hours=1), REFRESH_AHEAD, False),
        (timedelta(hours=1), REFRESH_AHEAD - timedelta(seconds=1), True),
        (timedelta(hours=1), timedelta(seconds=10), True),
        (timedelta(hours=1), timedelta(seconds=-10), True),
        # 400 s token: the window is min(5 min, 200 s) = 200 s
        (timedelta(seconds=400), timedelta(seconds=201), False),
        (timedelta(seconds=400), timedelta(seconds=199), True),
        # 10 min token: min(5 min, 5 min)
        (timedelta(minutes=10), timedelta(seconds=301), False),
        (timedelta(minutes=10), timedelta(seconds=299), True),
        # 60 s token: half is 30 s, below the leeway, so the window is the 40 s leeway
        (timedelta(seconds=60), timedelta(seconds=41), False),
        (timedelta(seconds=60), timedelta(seconds=39), True),
        # 1 day token: still 5 min
        (timedelta(days=1), timedelta(minutes=6), False),
        (timedelta(days=1), timedelta(minutes=4), True),
    ],
)
def test_wants_refresh_at_min_of_5min_and_half_lifetime(lifetime: timedelta, left: timedelta, wants: bool) -> None:
    expiry = NOW + left
    token = make(expiry=expiry, obtained_at=expiry - lifetime)
    assert token.wants_refresh(NOW) is wants
    if wants and token.is_valid(NOW):
        assert left <= min(REFRESH_AHEAD, lifetime / 2) or left < EXPIRED_LEEWAY + timedelta(seconds=1)


def test_no_expiry_never_wants_refresh() -> None:
    assert not make(expiry=None).wants_refresh(NOW)


@pytest.mark.parametrize(
    ("scopes", "granted", "missing"),
    [
        (("sql", "files.files"), ("files.files", "sql"), ()),
        (("sql", "files.files"), ("sql",), ("files.files",)),
        (("sql", "files.files"), (), ()),  # the server did not say
        (("sql",), ("all-apis",), ("sql",)),
    ],
)
def test_missing_scopes(scopes: tuple[str, ...], granted: tuple[str, ...], missing: tuple[str, ...]) -> None:
    token = make(target=Target("https://h.com", scopes=scopes), granted_scopes=granted)
    assert token.missing_scopes == missing


# -- databricks auth token shape -----------------------------------------------------------------


def test_to_cli_json_shape() -> None:
    out = make().to_cli_json()
    assert out == {"access_token": AT, "token_type": "Bearer", "expiry": "2026-01-02T04:04:05Z"}
    assert list(out) == ["access_token", "token_type", "expiry"]
    assert datetime.fromisoformat(str(out["expiry"]).replace("Z", "+00:00")) == NOW + timedelta(hours=1)
    assert RT not in json.dumps(out)


def test_to_cli_json_without_expiry() -> None:
    assert make(expiry=None).to_cli_json() == {"access_token": AT, "token_type": "Bearer", "expiry": None}


# -- repr / str ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        make(),
        make(refresh_token=None),
        make(needs_login=True),
        make(expiry=None),
        make(target=ACCOUNT),
        # a swapped or hand-edited record: the tokens sit where repr shows values
        make(token_type=AT),
        make(token_type=f"x{RT}x"),
        make(target=Target("https://h.com", client_id=RT, scopes=(AT,))),
    ],
)
def test_repr_and_str_never_show_tokens(token: Token) -> None:
    for text in (repr(token), str(token), f"{token}", f"{token!r}", repr([token]), repr({"t": token})):
        assert AT not in text
        assert RT not in text
        assert "access_token=<redacted>" in text
    assert token.target.host in repr(token)
    assert ("refresh_token=<redacted>" in repr(token)) is (token.refresh_token is not None)
    assert ("needs_login" in repr(token)) is token.needs_login


# -- property: from_json never fails any other way -----------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
SECRETS = st.sampled_from([AT, RT, [AT], [RT + '"'], AT + "Z", "2026-01-02T03:04:05Z " + RT])
FIELD_VALUE = JSON | SECRETS | st.sampled_from(["2026-01-02T03:04:05Z", ["sql"], "https://h.com", 1])
RECORDS = st.dictionaries(st.sampled_from(sorted(RECORD_FIELDS | {"needs_login"})), FIELD_VALUE, max_size=14).map(
    lambda d: {**record(), **d}
)


def _decode(text: str) -> Token | StorageError:
    try:
        token = Token.from_json(text)
    except StorageError as exc:
        assert_no_secret(exc)
        return exc
    # whatever decodes is usable
    assert isinstance(token, Token)
    token.is_valid()
    token.wants_refresh()
    token.to_cli_json()
    Token.from_json(token.to_json())
    for secret in (AT, RT):
        if secret in (token.access_token, token.refresh_token):
            assert secret not in repr(token)
    return token


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_from_json_on_any_text(text: str) -> None:
    _decode(text)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_from_json_on_any_json_value(value: Any) -> None:
    _decode(json.dumps(value))


@settings(max_examples=500, deadline=None)
@given(RECORDS)
def test_from_json_on_record_shaped_values(data: dict[str, Any]) -> None:
    result = _decode(json.dumps(data))
    if isinstance(result, Token):
        assert data["version"] == 1 and type(data["version"]) is int


# -- the value classes (records.Record) ----------------------------------------------------------


def test_targets_are_immutable_values_equal_regardless_of_profile() -> None:
    import pickle

    a = Target("https://x.cloud.databricks.com", scopes=("sql", "offline_access", "sql"), profile="p")
    b = Target("https://x.cloud.databricks.com", "databricks-cli", ("offline_access", "sql"))
    assert a == b and hash(a) == hash(b) and a.scopes == ("offline_access", "sql")
    assert a != b.replace(client_id="other") and a != b.replace(account_id="acc")
    assert a.replace(profile="q").profile == "q" and a.profile == "p"
    again = pickle.loads(pickle.dumps(a))  # noqa: S301 - our own bytes, a round trip
    assert again == a and again.profile == "p"
    with pytest.raises(AttributeError, match="immutable"):
        a.host = "https://evil.example.com"  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field 'hots'"):
        a.replace(hots="https://y.cloud.databricks.com")


def test_tokens_compare_every_field_and_replace_keeps_the_rest() -> None:
    target = Target("https://x.cloud.databricks.com", scopes=("sql",))
    token = Token(target, "a", refresh_token="r", expiry=datetime.now(timezone.utc))
    same = Token(target, "a", refresh_token="r", expiry=token.expiry, obtained_at=token.obtained_at)
    assert token == same and hash(token) == hash(same)
    dead = token.replace(needs_login=True)
    assert dead != token and dead.needs_login and dead.refresh_token == "r" and dead.obtained_at == token.obtained_at
    assert "secret-value" not in repr(token.replace(access_token="secret-value", refresh_token="secret-value"))


# -- what a record promises about renewal (mutation-testing gaps, issue 9) -------------------


@pytest.mark.parametrize(
    ("refresh", "grant", "needs_login", "renewable"),
    [
        (RT, None, False, True),
        (RT, None, True, False),
        (None, Grant(CLIENT_CREDENTIALS, client_secret_env="SP_SECRET"), False, True),
        (None, Grant(CLIENT_CREDENTIALS, client_secret_env="SP_SECRET"), True, False),
        (None, Grant(TOKEN_EXCHANGE, subject_token_file="/run/token"), True, False),
        (None, None, False, False),
    ],
)
def test_renewable_honours_needs_login(
    refresh: str | None, grant: Grant | None, needs_login: bool, renewable: bool
) -> None:
    """A grant the server declared dead is never renewed, whether by refresh token or by minting again."""
    token = Token(target=WS, access_token=AT, refresh_token=refresh, grant=grant, needs_login=needs_login)
    assert token.renewable is renewable


def test_a_grant_claims_a_kept_secret_only_when_told() -> None:
    """``client_secret_stored`` defaults to False: a record never points at a secret nobody kept."""
    grant = Grant(CLIENT_CREDENTIALS, client_secret_env="SP_SECRET")
    assert grant.client_secret_stored is False
    assert grant.to_dict() == {"type": CLIENT_CREDENTIALS, "client_secret_env": "SP_SECRET"}
    assert Grant.from_dict({"type": CLIENT_CREDENTIALS}).client_secret_stored is False
    record = json.loads(Token(target=WS, access_token=AT, grant=Grant(TOKEN_EXCHANGE)).to_json())
    assert record["grant"] == {"type": TOKEN_EXCHANGE}


# -- grants in the record, and what a corrupt one says (mutation-testing gaps) ---------------

GRANTS = [
    (Grant(CLIENT_CREDENTIALS, client_secret_env="SP_SECRET"), {"client_secret_env": "SP_SECRET"}),
    (
        Grant(CLIENT_CREDENTIALS, client_secret_profile="sp", client_secret_stored=True),
        {"client_secret_profile": "sp", "client_secret_stored": True},
    ),
    (
        Grant(TOKEN_EXCHANGE, subject_token_file="/run/t", subject_token_type="urn:ietf:params:oauth:token-type:jwt"),
        {"subject_token_file": "/run/t", "subject_token_type": "urn:ietf:params:oauth:token-type:jwt"},
    ),
    (Grant(TOKEN_EXCHANGE, subject_token_env="GH_TOKEN"), {"subject_token_env": "GH_TOKEN"}),
]


@pytest.mark.parametrize(("grant", "fields"), GRANTS)
def test_a_record_with_a_grant_round_trips(grant: Grant, fields: dict[str, object]) -> None:
    raw = Token(target=WS, access_token=AT, grant=grant).to_json()
    assert json.loads(raw)["grant"] == {"type": grant.type, **fields}
    assert Token.from_json(raw).grant == grant


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("grant", "not an object", "field 'grant' is not an object"),
        (
            "grant",
            {"type": CLIENT_CREDENTIALS, "client_secret_stored": "yes"},
            "field 'grant.client_secret_stored' is not true or false",
        ),
        ("grant", {"type": 1}, "field 'type' is missing or not a string"),
        ("grant", {"type": TOKEN_EXCHANGE, "subject_token_env": 5}, "field 'subject_token_env' is not a string"),
        ("needs_login", "yes", "field 'needs_login' is not true or false"),
    ],
)
def test_a_corrupt_field_is_named_exactly(field: str, value: object, message: str) -> None:
    record = json.loads(Token(target=WS, access_token=AT).to_json())
    record[field] = value
    with pytest.raises(StorageError) as info:
        Token.from_json(json.dumps(record), where="entry 'k'")
    assert str(info.value) == f"the record in entry 'k' is corrupt ({message}); it was left untouched"


@pytest.mark.parametrize(("version", "shown"), [(2, "2"), ("1", "<str>"), (1.0, "<float>"), (True, "<bool>")])
def test_a_foreign_version_is_shown_only_when_it_is_an_integer(version: object, shown: str) -> None:
    record = json.loads(Token(target=WS, access_token=AT).to_json())
    record["version"] = version
    with pytest.raises(StorageError) as info:
        Token.from_json(json.dumps(record))
    assert str(info.value).startswith(f"the record in the token store has format version {shown}, ")
