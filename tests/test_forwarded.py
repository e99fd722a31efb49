"""``scopedauth.forwarded()``: the user's forwarded token as a credentials strategy inside an app."""

from __future__ import annotations

from pathlib import Path

import pytest

import scopedauth
from scopedauth.handoff.forwarded import ForwardedCredentials
from scopedauth.sandbox import Sandbox
from tests.clitools import file_records


def test_header_lookup_is_case_insensitive_and_the_token_never_shows() -> None:
    for headers in ({"x-forwarded-access-token": "tok-1"}, [("X-FORWARDED-ACCESS-TOKEN", "tok-1")]):
        creds = scopedauth.forwarded(headers)
        assert creds.headers() == {"Authorization": "Bearer tok-1"}
        assert "tok-1" not in repr(creds) and "tok-1" not in str(creds)
    creds = scopedauth.forwarded({"X-Forwarded-Access-Token": "tok-2", "X-Forwarded-Email": "a@b.c"})
    assert creds.email == "a@b.c"
    assert creds()() == {"Authorization": "Bearer tok-2"}  # the SQL connector calls it with no arguments
    assert creds.auth_type() == "scopedauth-forwarded"


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"X-Forwarded-Email": "a@b.c", "X-Forwarded-User": "1@2"}, "user authorization is not enabled"),
        ({}, "did not come through Databricks Apps"),
        ({"X-Forwarded-Access-Token": "  "}, "did not come through Databricks Apps"),
    ],
)
def test_a_missing_header_says_why(headers: dict[str, str], says: str) -> None:
    with pytest.raises(scopedauth.ConfigError, match=says):
        scopedauth.forwarded(headers)


def test_workspace_client_as_the_user_next_to_the_apps_service_principal(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An app's environment holds its own service principal; forwarded() still acts as the user."""
    from databricks.sdk import WorkspaceClient

    monkeypatch.setenv("DATABRICKS_HOST", sandbox.url)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp-client")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "sp-secret")
    monkeypatch.setenv("SCOPEDAUTH_STORAGE", "file")
    user_token = sandbox.issue_access_token(["sql", "iam.current-user:read"])
    with pytest.raises(ValueError, match="more than one authorization method configured"):
        WorkspaceClient(token=user_token)  # what the SDK does with the obvious code
    w = WorkspaceClient(credentials_strategy=scopedauth.forwarded({"X-Forwarded-Access-Token": user_token}))
    assert w.current_user.me().user_name == "demo@example.com"
    assert sandbox.stats.client_credentials == 0  # the service principal's secret was never used
    assert file_records(tmp_path) == {}  # forwarded tokens are never stored
    assert isinstance(scopedauth.forwarded({"X-Forwarded-Access-Token": user_token}), ForwardedCredentials)
