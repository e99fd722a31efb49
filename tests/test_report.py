"""What ``status`` calls each record: a table over the states a record can be in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scopedauth.cli.report import state_of, status_json, status_lines
from scopedauth.config import Target
from scopedauth.grants.manage import StatusEntry
from scopedauth.tokens import CLIENT_CREDENTIALS, Grant, Token, utcnow

T = Target("https://h.cloud.databricks.com", scopes=("offline_access", "sql"))
NOW = utcnow()
LIVE = NOW + timedelta(hours=1)
GONE = NOW - timedelta(minutes=1)


def tok(expiry: object, refresh: str | None = None, grant: Grant | None = None, dead: bool = False) -> Token:
    return Token(
        T,
        access_token="SECRET-A",
        refresh_token=refresh,
        expiry=expiry,  # type: ignore[arg-type]
        grant=grant,
        needs_login=dead,
    )


@pytest.mark.parametrize(
    ("token", "error", "state"),
    [
        (tok(LIVE), None, "valid"),
        (tok(GONE, refresh="SECRET-R"), None, "refreshable"),
        (tok(GONE), None, "needs-login"),
        (tok(GONE, grant=Grant(CLIENT_CREDENTIALS, client_secret_env="SP_SECRET")), None, "refreshable"),
        (tok(LIVE, refresh="SECRET-R", dead=True), None, "needs-login"),
        (tok(GONE, grant=Grant(CLIENT_CREDENTIALS, client_secret_env="SP_SECRET"), dead=True), None, "needs-login"),
        (None, "the record is corrupt", "unreadable"),
    ],
)
def test_states(token: Token | None, error: str | None, state: str) -> None:
    entry = StatusEntry(T, token, error, "memory")
    assert state_of(entry) == state
    (line,) = status_lines([entry])
    (row,) = status_json([entry])
    assert f"state={state}" in line and row["state"] == state
    assert "SECRET" not in line + repr(row)
