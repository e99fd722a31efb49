"""Account-console logins: endpoints under /oidc/accounts/<id>/, stored apart from workspace grants.

End to end against the sandbox's account realm: the workspace host with ``--account-id`` is an
account console there, as any host is when ``--account-id`` is given explicitly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scopedauth.config import resolve_target
from scopedauth.errors import ConfigError
from scopedauth.oauth.endpoints import discover
from scopedauth.sandbox import Sandbox
from tests.clitools import base_env, records, run


def login(sb: Sandbox, port: int, browser_script: str, *extra: str) -> object:
    return run(
        *("login", "--host", sb.url, "--scopes", "sql", "--port", str(port), "--timeout", "20", *extra),
        env=base_env(BROWSER=browser_script),
    )


def test_account_login_token_and_refresh(
    sandbox: Sandbox, listener_port: int, browser_script: str, tmp_path: Path
) -> None:
    account = sandbox.config.account_id
    sandbox.config.access_token_lifetime = 30  # under the 40 s leeway: every later `token` refreshes
    res = login(sandbox, listener_port, browser_script, "--account-id", account)
    assert res.returncode == 0, res.stderr
    key = f"{sandbox.url}/accounts/{account}|databricks-cli|offline_access sql"
    record = records(tmp_path)[key]
    assert record["account_id"] == account
    assert record["token_endpoint"] == f"{sandbox.url}/oidc/accounts/{account}/v1/token"

    # a workspace login for the same host and scopes is a separate grant
    sandbox.config.access_token_lifetime = 3600
    res = login(sandbox, listener_port, browser_script)
    assert res.returncode == 0, res.stderr
    assert set(records(tmp_path)) == {key, f"{sandbox.url}|databricks-cli|offline_access sql"}

    token = run("token", "--host", sandbox.url, "--account-id", account, "--scopes", "sql")
    assert token.returncode == 0, token.stderr
    assert sandbox.stats.refreshes == 1  # at the account realm: a workspace refresh token would be refused
    fresh = records(tmp_path)[key]
    assert token.stdout.strip() == fresh["access_token"] != record["access_token"]
    assert fresh["refresh_token"] != record["refresh_token"]

    as_json = json.loads(run("token", "--host", sandbox.url, "--account-id", account, "-o", "json").stdout)
    assert as_json["access_token"] == fresh["access_token"] and sandbox.stats.refreshes == 1
    workspace = run("token", "--host", sandbox.url, "--scopes", "sql")
    assert workspace.stdout.strip() not in (record["access_token"], fresh["access_token"])


def test_wrong_account_id_is_a_clear_config_error(
    sandbox: Sandbox, listener_port: int, browser_script: str, tmp_path: Path
) -> None:
    res = login(sandbox, listener_port, browser_script, "--account-id", "not-this-account")
    assert res.returncode == 2
    assert "account not-this-account" in res.stderr and "account id" in res.stderr
    assert "/oidc/accounts/not-this-account/.well-known/oauth-authorization-server" in res.stderr
    assert records(tmp_path) == {}
    assert sandbox.stats.authorize_requests == 0
    with pytest.raises(ConfigError, match="account id"):
        discover(resolve_target(host=sandbox.url, account_id="not-this-account", scopes="sql"))


@pytest.mark.parametrize(
    "host", ["accounts.cloud.databricks.com", "accounts.azuredatabricks.net", "accounts.gcp.databricks.com"]
)
def test_account_hosts_key_apart_and_need_an_account_id(host: str) -> None:
    target = resolve_target(host=host, account_id="abc-123", scopes="sql")
    assert target.key == f"https://{host}/accounts/abc-123|databricks-cli|offline_access sql"
    assert "--account-id abc-123" in target.login_command()
    with pytest.raises(ConfigError, match="--account-id"):
        resolve_target(host=host, scopes="sql")
