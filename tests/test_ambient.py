"""An app or job environment (DATABRICKS_HOST + client credentials, no keyring) just works,
and ambient client credentials never silently replace a stored user grant."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import scopedauth
from scopedauth.sandbox import Sandbox
from tests.clitools import base_env, records, run
from tests.users import user_login

SECRET = "sp-secret"
NO_KEYRING = "keyring.backends.fail.Keyring"


def job_env(sb: Sandbox, **extra: str) -> dict[str, str]:
    """A Databricks job or app: host and service principal in the environment, no usable keyring."""
    env = base_env(DATABRICKS_HOST=sb.url, DATABRICKS_CLIENT_ID="sp-client", DATABRICKS_CLIENT_SECRET=SECRET)
    env.pop("SCOPEDAUTH_STORAGE")  # nobody configured scopedauth there
    env.update(PYTHON_KEYRING_BACKEND=NO_KEYRING, **extra)
    return env


def test_token_and_exec_with_client_credentials_and_no_keyring(sandbox: Sandbox) -> None:
    env = job_env(sandbox)
    bare = run("token", env=env)
    assert bare.returncode == 0, bare.stderr
    assert "as service principal sp-client (from DATABRICKS_CLIENT_ID)" in bare.stderr
    assert bare.stderr.count("as service principal") == 1
    assert run("token", "--scopes", "sql", env=env).returncode == 0
    probe = "import os; print(os.environ['DATABRICKS_TOKEN'])"
    child = run("exec", "--", sys.executable, "-c", probe, env=env)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip()
    assert sandbox.stats.client_credentials == 3  # each process minted its own: kept in memory


def test_library_and_sdk_with_client_credentials_and_no_keyring(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from databricks.sdk import WorkspaceClient

    for name, value in job_env(sandbox).items():
        if name.startswith(("DATABRICKS_", "PYTHON_KEYRING")):
            monkeypatch.setenv(name, value)
    token = scopedauth.get_token()
    assert token.target.client_id == "sp-client" and "all-apis" in token.target.scopes
    assert scopedauth.get_token(scopes="sql").target.scopes == ("offline_access", "sql")
    assert scopedauth.get_token().access_token == token.access_token  # two scope sets minted: still not ambiguous
    w = WorkspaceClient(credentials_strategy=scopedauth.credentials_strategy())
    assert w.current_user.me().user_name == "sp-client"


def test_two_scope_sets_minted_in_a_file_store_are_not_ambiguous(sandbox: Sandbox, tmp_path: Path) -> None:
    env = job_env(sandbox, SCOPEDAUTH_STORAGE="file")
    assert run("token", env=env).returncode == 0
    assert run("token", "--scopes", "sql", env=env).returncode == 0
    assert len(records(tmp_path)) == 2
    again = run("token", env=env)
    assert again.returncode == 0, again.stderr
    assert "several scope sets" not in again.stderr
    assert sandbox.stats.client_credentials == 2  # the all-apis token was served from the store


def test_a_stored_user_grant_wins_over_ambient_client_credentials(
    sandbox: Sandbox, listener_port: int, tmp_path: Path
) -> None:
    user_login(sandbox, listener_port, "file", "sql files.files")
    env = base_env(DATABRICKS_HOST=sandbox.url, DATABRICKS_CLIENT_ID="sp-client", DATABRICKS_CLIENT_SECRET=SECRET)
    mine = run("call", "--host", sandbox.url, "--scopes", "sql files.files", f"{sandbox.app_url}/api/hello", env=env)
    assert mine.returncode == 0, mine.stderr
    assert json.loads(mine.stdout)["user"] == "demo@example.com"
    assert "service principal" not in mine.stderr
    assert sandbox.stats.client_credentials == 0
    # nothing stored matches: the service principal, said once
    other = run("call", "--host", sandbox.url, "--scopes", "sql", f"{sandbox.app_url}/api/hello", env=env)
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)["user"] == "sp-client"
    assert other.stderr.count("as service principal sp-client (from DATABRICKS_CLIENT_ID)") == 1
    # the user's own token without --scopes: the one user grant stored for the host
    bare = run("token", env=env)
    assert bare.returncode == 0, bare.stderr
    user_record = records(tmp_path)[f"{sandbox.url}|databricks-cli|files.files offline_access sql"]
    assert bare.stdout.strip() == user_record["access_token"]


def test_the_sdk_strategy_prefers_a_stored_user_grant_over_ambient_client_credentials(
    sandbox: Sandbox, listener_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK config carries DATABRICKS_CLIENT_ID from the service principal's credentials: that
    client id must not turn the user's call into the service principal's (issue 12, point 6)."""
    from databricks.sdk import WorkspaceClient

    user_login(sandbox, listener_port, "file", "sql files.files")
    monkeypatch.setenv("DATABRICKS_HOST", sandbox.url)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp-client")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", SECRET)
    strategy = scopedauth.credentials_strategy(scopes="sql files.files", store="file")
    w = WorkspaceClient(credentials_strategy=strategy)
    assert w.current_user.me().user_name == "demo@example.com"
    assert sandbox.stats.client_credentials == 0
