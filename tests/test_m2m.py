"""Service principals (M2M): client credentials, cached, minted again when stale, secret kept out of sight.

Against the sandbox's confidential client ``sp-client`` / ``sp-secret``, through the real
command in separate processes (file store, and the real Secret Service for ``--store-secret``).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests

import scopedauth
from scopedauth.config import resolve_target
from scopedauth.errors import ConfigError, LoginRequiredError, TokenEndpointError
from scopedauth.sandbox import Sandbox
from scopedauth.storage.backends import FileBackend, MemoryBackend
from scopedauth.storage.store import TokenStore
from tests.clitools import base_env, file_records, records, run
from tests.conftest import KEYRING_SERVICE, require_keyring

SECRET = "sp-secret"


def sp_login(sb: Sandbox, *extra: str, env: dict[str, str] | None = None) -> object:
    return run(
        *("login", "--host", sb.url, "--client-id", "sp-client", "--scopes", "sql", *extra),
        env=env or base_env(SP_SECRET=SECRET),
    )


def sp_token(sb: Sandbox, *extra: str, env: dict[str, str] | None = None) -> object:
    return run("token", "--host", sb.url, "--client-id", "sp-client", "--scopes", "sql", *extra, env=env or base_env())


def make_stale(sb: Sandbox, client_id: str = "sp-client") -> None:
    """Leave the stored record 5 s of life (under the 40 s leeway), as an hour later would."""
    store = TokenStore(FileBackend())
    target = resolve_target(host=sb.url, client_id=client_id, scopes="sql")
    token = store.load(target)
    assert token is not None
    store.save(token.replace(expiry=token.obtained_at + timedelta(seconds=5)))


def assert_secret_hidden(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def test_login_then_token_elsewhere_then_remint_when_stale(sandbox: Sandbox, tmp_path: Path) -> None:
    login = sp_login(sandbox, "--client-secret-env", "SP_SECRET")
    assert login.returncode == 0, login.stderr
    assert login.stdout == ""
    assert "Service principal sp-client" in login.stderr and "$SP_SECRET" in login.stderr
    assert "fewer scopes" not in login.stderr  # offline_access is not asked of a client-credentials grant
    assert sandbox.stats.client_credentials == 1
    key = f"{sandbox.url}|sp-client|offline_access sql"
    record = records(tmp_path)[key]
    assert record["grant"] == {"type": "client_credentials", "client_secret_env": "SP_SECRET"}
    assert record["refresh_token"] is None and record["granted_scopes"] == ["sql"]
    assert_secret_hidden(login.stderr, json.dumps(file_records(tmp_path)))

    # a second process, without the secret: the cached token
    first = sp_token(sandbox)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == record["access_token"]
    hello = requests.get(
        f"{sandbox.app_url}/api/hello", headers={"Authorization": f"Bearer {first.stdout.strip()}"}, timeout=10
    )
    assert hello.status_code == 200

    make_stale(sandbox)
    missing = sp_token(sandbox)
    assert missing.returncode == 4
    assert "set SP_SECRET" in missing.stderr
    assert (
        f"scopedauth login --host {sandbox.url} --client-id sp-client --scopes sql --client-secret-env SP_SECRET"
        in (missing.stderr)
    )
    assert sandbox.stats.client_credentials == 1

    again = sp_token(sandbox, env=base_env(SP_SECRET=SECRET))
    assert again.returncode == 0, again.stderr
    assert sandbox.stats.client_credentials == 2
    assert again.stdout.strip() != first.stdout.strip()
    assert records(tmp_path)[key]["access_token"] == again.stdout.strip()
    assert_secret_hidden(again.stderr, again.stdout, json.dumps(file_records(tmp_path)))

    # env and exec hand out the same token
    env_out = run("env", "--host", sandbox.url, "--client-id", "sp-client", "--scopes", "sql", "--shell", "json")
    assert json.loads(env_out.stdout)["DATABRICKS_TOKEN"] == again.stdout.strip()
    child = "import os; print(os.environ['DATABRICKS_TOKEN'])"
    exec_out = run(
        "exec", "--host", sandbox.url, "--client-id", "sp-client", "-s", "sql", "--", sys.executable, "-c", child
    )
    assert exec_out.returncode == 0, exec_out.stderr
    assert exec_out.stdout.strip() == again.stdout.strip()


def test_bad_secret_is_invalid_client_and_stores_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    res = sp_login(sandbox, "--client-secret-env", "SP_SECRET", env=base_env(SP_SECRET="not-the-secret-1f9a"))
    assert res.returncode == 6
    assert "invalid_client" in res.stderr
    assert "not-the-secret-1f9a" not in res.stderr + res.stdout
    assert records(tmp_path) == {}


def test_store_secret_keeps_it_apart_and_logout_removes_it(sandbox: Sandbox, tmp_path: Path) -> None:
    res = sp_login(sandbox, "--client-secret-env", "SP_SECRET", "--store-secret")
    assert res.returncode == 0, res.stderr
    assert "kept in the store under its own key" in res.stderr
    key = f"{sandbox.url}|sp-client|offline_access sql"
    raw = file_records(tmp_path)
    assert raw[key + "#client-secret"] == SECRET
    assert SECRET not in raw[key]
    assert json.loads(raw[key])["grant"]["client_secret_stored"] is True
    assert key + "#client-secret" not in json.loads(raw[".index"])["keys"]
    assert_secret_hidden(res.stderr, res.stdout)

    make_stale(sandbox)
    fresh = sp_token(sandbox)  # no variable: the kept secret mints
    assert fresh.returncode == 0, fresh.stderr
    assert sandbox.stats.client_credentials == 2
    status = run("status")
    assert_secret_hidden(status.stdout, status.stderr)
    assert status.stdout.count("sp-client") == 1

    out = run("logout", "--host", sandbox.url, "--client-id", "sp-client", "--scopes", "sql")
    assert out.returncode == 0, out.stderr
    assert {k for k in file_records(tmp_path) if not k.startswith(".")} == set()

    # logging in again without --store-secret leaves no secret behind
    assert sp_login(sandbox, "--client-secret-env", "SP_SECRET", "--store-secret").returncode == 0
    assert sp_login(sandbox, "--client-secret-env", "SP_SECRET").returncode == 0
    assert not [k for k in file_records(tmp_path) if k.endswith("#client-secret")]


def test_store_secret_in_the_real_keyring(sandbox: Sandbox) -> None:
    require_keyring()
    from keyring.backends.SecretService import Keyring

    env = base_env(SP_SECRET=SECRET, SCOPEDAUTH_STORAGE="keyring")
    key = f"{sandbox.url}|sp-client|offline_access sql"
    try:
        res = sp_login(sandbox, "--client-secret-env", "SP_SECRET", "--store-secret", env=env)
        assert res.returncode == 0, res.stderr
        assert Keyring().get_password(KEYRING_SERVICE, key + "#client-secret") == SECRET
        assert SECRET not in Keyring().get_password(KEYRING_SERVICE, key)
    finally:
        run("logout", "--host", sandbox.url, "--client-id", "sp-client", "-s", "sql", env=env)
    assert Keyring().get_password(KEYRING_SERVICE, key + "#client-secret") is None
    assert Keyring().get_password(KEYRING_SERVICE, key) is None


def test_databricks_client_variables_need_no_login(sandbox: Sandbox, tmp_path: Path) -> None:
    env = base_env(DATABRICKS_HOST=sandbox.url, DATABRICKS_CLIENT_ID="sp-client", DATABRICKS_CLIENT_SECRET=SECRET)
    bare = run("token", env=env)  # nothing stored, no scopes: all-apis, as databricks-sdk would ask
    assert bare.returncode == 0, bare.stderr
    record = records(tmp_path)[f"{sandbox.url}|sp-client|all-apis offline_access"]
    assert record["grant"] == {"type": "client_credentials", "client_secret_env": "DATABRICKS_CLIENT_SECRET"}
    assert record["granted_scopes"] == ["all-apis"]
    res = run("token", "--scopes", "sql", env=env)
    assert res.returncode == 0, res.stderr
    assert sandbox.stats.client_credentials == 2
    assert run("token", "--scopes", "sql", env=env).stdout == res.stdout  # cached
    login = run("login", "--scopes", "sql", env=env)
    assert login.returncode == 0 and "Service principal sp-client" in login.stderr
    assert_secret_hidden(bare.stderr, res.stderr, login.stderr, json.dumps(file_records(tmp_path)))
    # the public CLI client never borrows a service principal's secret
    public = run("token", "--client-id", "databricks-cli", "--scopes", "sql", env=env)
    assert public.returncode == 4 and sandbox.stats.client_credentials == 3


def test_profile_client_secret(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "databrickscfg").write_text(
        f"[sp]\nhost = {sandbox.url}\nclient_id = sp-client\nclient_secret = {SECRET}\n", encoding="utf-8"
    )
    res = run("login", "--profile", "sp", "--scopes", "sql")
    assert res.returncode == 0, res.stderr
    (record,) = records(tmp_path).values()
    assert record["grant"] == {"type": "client_credentials", "client_secret_profile": "sp"}
    make_stale(sandbox)
    again = run("token", "--profile", "sp", "--scopes", "sql")
    assert again.returncode == 0, again.stderr
    assert sandbox.stats.client_credentials == 2


@pytest.mark.parametrize(
    ("extra", "env", "expect"),
    [
        (["--client-secret-env", "SP_SECRET", "--paste"], {"SP_SECRET": SECRET}, "for user logins"),
        (["--client-secret-env", "NOT_SET_ANYWHERE"], {}, "NOT_SET_ANYWHERE is not set"),
        (["--client-secret-env", "$SP_SECRET"], {"SP_SECRET": SECRET}, "takes a variable name"),
        (["--store-secret"], {}, "--store-secret keeps a service principal's client secret"),
    ],
)
def test_contradictions_are_config_errors(sandbox: Sandbox, extra: list[str], env: dict[str, str], expect: str) -> None:
    res = sp_login(sandbox, *extra, env=base_env(**env))
    assert res.returncode == 2
    assert expect in res.stderr
    assert sandbox.stats.token_requests == 0


def test_library_surface(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SP_SECRET", SECRET)
    store = TokenStore(MemoryBackend())
    opts = {"host": sandbox.url, "client_id": "sp-client", "scopes": "sql"}
    token = scopedauth.login(store=store, client_secret_env="SP_SECRET", say=lambda _m: None, **opts)
    assert scopedauth.get_token(store=store, **opts).access_token == token.access_token
    assert scopedauth.headers(store=store, **opts) == {"Authorization": f"Bearer {token.access_token}"}
    assert SECRET not in repr(token) and SECRET not in token.to_json()

    store.save(token.replace(expiry=token.obtained_at + timedelta(seconds=5)))
    scopedauth.grants.session.forget_memory()
    monkeypatch.delenv("SP_SECRET")
    with pytest.raises(LoginRequiredError, match="set SP_SECRET") as info:
        scopedauth.get_token(store=store, **opts)
    assert info.value.command.endswith("--client-secret-env SP_SECRET")
    monkeypatch.setenv("SP_SECRET", "rotated-away")
    with pytest.raises(TokenEndpointError) as bad:
        scopedauth.get_token(store=store, **opts)
    assert bad.value.error == "invalid_client" and "rotated-away" not in str(bad.value)
    with pytest.raises(ConfigError):
        scopedauth.login(store=store, client_secret_env="SP_SECRET", mode="paste", **opts)


def test_environment_secret_goes_only_to_the_host_databricks_host_names(sandbox: Sandbox, tmp_path: Path) -> None:
    sp = {"DATABRICKS_CLIENT_ID": "sp-client", "DATABRICKS_CLIENT_SECRET": SECRET}
    me = f"{sandbox.url}/api/2.0/preview/scim/v2/Me"
    # a URL alone names no target: the secret is not posted there and nothing is stored
    by_url = run("call", me, env=base_env(**sp))
    assert by_url.returncode == 4, by_url.stderr
    assert f"scopedauth login --host {sandbox.url}" in by_url.stderr
    # nor when DATABRICKS_HOST names another workspace, whatever --host says
    elsewhere = base_env(**sp, DATABRICKS_HOST="https://elsewhere.cloud.databricks.com")
    assert run("token", "--host", sandbox.url, "--scopes", "sql", env=elsewhere).returncode == 4
    assert sandbox.stats.token_requests == 0 and records(tmp_path) == {}
    # DATABRICKS_HOST names this workspace: then `call` and `token` mint
    named = run("call", me, env=base_env(**sp, DATABRICKS_HOST=sandbox.url))
    assert named.returncode == 0, named.stderr
    assert sandbox.stats.client_credentials == 1
    assert_secret_hidden(by_url.stderr, named.stderr, named.stdout)


def test_call_by_url_does_not_borrow_a_profile_secret(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "databrickscfg").write_text(
        f"[DEFAULT]\nhost = {sandbox.url}\nclient_id = sp-client\nclient_secret = {SECRET}\n", encoding="utf-8"
    )
    me = f"{sandbox.url}/api/2.0/preview/scim/v2/Me"
    # --client-id alone skips the file (as databricks-sdk does): the host comes from the URL only
    by_url = run("call", me, "--client-id", "sp-client")
    assert by_url.returncode == 4, by_url.stderr
    assert sandbox.stats.token_requests == 0 and records(tmp_path) == {}
    # the profile named: its own host, its own secret
    named = run("call", me, "--profile", "DEFAULT")
    assert named.returncode == 0, named.stderr
    assert sandbox.stats.client_credentials == 1


def test_find_secret_matches_host_and_account() -> None:
    from scopedauth.grants.m2m import find_secret, no_ambient_secret

    host = "https://accounts.cloud.databricks.com"
    target = resolve_target(host=host, account_id="acct-1", client_id="sp-client", scopes="sql", env={})
    env = {"DATABRICKS_CLIENT_ID": "sp-client", "DATABRICKS_CLIENT_SECRET": SECRET}
    assert find_secret(target, env=env) is None  # no DATABRICKS_HOST
    assert find_secret(target, env={**env, "DATABRICKS_HOST": "accounts.cloud.databricks.com"}) is None
    both = {**env, "DATABRICKS_HOST": "accounts.cloud.databricks.com", "DATABRICKS_ACCOUNT_ID": "acct-1"}
    found = find_secret(target, env=both)
    assert found is not None and found[0] == SECRET
    assert find_secret(target, env={**both, "DATABRICKS_ACCOUNT_ID": "acct-2"}) is None
    assert find_secret(target, env={**both, "DATABRICKS_HOST": "https://accounts.gcp.databricks.com"}) is None
    with no_ambient_secret():
        assert find_secret(target, env=both) is None
        assert find_secret(target, "SP_SECRET", env={"SP_SECRET": SECRET}) is not None  # named: still used
    assert find_secret(target, env=both) is not None


def test_client_secret_env_needs_a_client_id(sandbox: Sandbox) -> None:
    res = run("login", "--host", sandbox.url, "--client-secret-env", "SP_SECRET", env=base_env(SP_SECRET=SECRET))
    assert res.returncode == 2
    assert "--client-secret-env needs --client-id: databricks-cli is a public client" in res.stderr
    assert sandbox.stats.token_requests == 0


def test_remint_never_sends_another_service_principals_environment_secret(sandbox: Sandbox, tmp_path: Path) -> None:
    """A record minted from DATABRICKS_CLIENT_SECRET re-reads it only while the variables still name it."""
    env = base_env(DATABRICKS_HOST=sandbox.url, DATABRICKS_CLIENT_ID="sp-client", DATABRICKS_CLIENT_SECRET=SECRET)
    assert run("token", "--scopes", "sql", env=env).returncode == 0
    make_stale(sandbox)
    other = base_env(
        DATABRICKS_HOST="https://other-workspace.cloud.databricks.com",
        DATABRICKS_CLIENT_ID="other-sp",
        DATABRICKS_CLIENT_SECRET="OTHER-SP-SECRET",
    )
    res = sp_token(sandbox, env=other)
    assert res.returncode == 4, res.stderr  # login required: the shell now holds someone else's secret
    assert sandbox.stats.client_credentials == 1  # nothing was posted to the token endpoint
    again = sp_token(sandbox, env=env)  # the variables name sp-client on this host again: minted
    assert again.returncode == 0 and sandbox.stats.client_credentials == 2


def test_logout_removes_a_kept_secret_even_when_the_record_no_longer_mentions_it(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scopedauth.grants.m2m import secret_key

    monkeypatch.setenv("SP_SECRET", SECRET)
    store = TokenStore(MemoryBackend())
    token = scopedauth.login(
        host=sandbox.url,
        client_id="sp-client",
        client_secret_env="SP_SECRET",
        store_secret=True,
        scopes="sql",
        store=store,
    )
    assert store.backend.get(secret_key(token.target)) == SECRET
    store.save(token.replace(grant=None))  # replaced by a grant of another kind, as exchange would
    scopedauth.logout(token.target, store=store)
    assert store.backend.get(secret_key(token.target)) is None
    assert store.backend.data == {} or set(store.backend.data) == {".index"}  # type: ignore[attr-defined]
