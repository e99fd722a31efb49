"""Token federation (RFC 8693): another identity provider's JWT exchanged for a Databricks token.

The sandbox trusts HS256 JWTs signed with its ``federation_issuer_secret``
(:meth:`Sandbox.make_subject_token`); expired or foreign ones are refused with invalid_grant.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

import scopedauth
from scopedauth.config import resolve_target
from scopedauth.errors import InvalidGrantError
from scopedauth.oauth import client as oauth
from scopedauth.sandbox import Sandbox, hs256
from scopedauth.storage.backends import FileBackend
from scopedauth.storage.store import TokenStore
from tests.clitools import base_env, file_records, records, run
from tests.users import scripted_user, user_login

JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"


def exchange(sb: Sandbox, *extra: str, env: dict[str, str] | None = None) -> object:
    return run("exchange", "--host", sb.url, "--scopes", "sql", *extra, env=env)


def make_stale(sb: Sandbox) -> None:
    store = TokenStore(FileBackend())
    target = resolve_target(host=sb.url, scopes="sql")
    token = store.load(target)
    assert token is not None
    store.save(token.replace(expiry=token.obtained_at + timedelta(seconds=5)))


def expired_subject_token(sb: Sandbox) -> str:
    now = int(time.time())
    claims = {"iss": "https://idp.example.com", "sub": "late@example.com", "aud": sb.url, "iat": now - 900}
    return hs256.encode({**claims, "exp": now - 300}, sb.config.federation_issuer_secret)


def test_file_subject_token_exchanged_stored_usable_and_exchanged_again(sandbox: Sandbox, tmp_path: Path) -> None:
    subject = sandbox.make_subject_token()
    source = tmp_path / "idp-token"
    source.write_text(subject + "\n")
    res = exchange(sandbox, "--subject-token-file", str(source))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert sandbox.stats.token_exchanges == 1
    (record,) = records(tmp_path).values()
    assert record["grant"] == {
        "type": "token_exchange",
        "subject_token_file": str(source),
        "subject_token_type": JWT_TYPE,
    }
    assert record["refresh_token"] is None and record["granted_scopes"] == ["sql"]
    assert subject not in res.stderr + json.dumps(file_records(tmp_path))

    token = run("token", "--host", sandbox.url, "--scopes", "sql")
    assert token.returncode == 0 and token.stdout.strip() == record["access_token"]
    hello = requests.get(
        f"{sandbox.app_url}/api/hello", headers={"Authorization": f"Bearer {record['access_token']}"}, timeout=10
    )
    assert hello.status_code == 200 and "federated@example.com" in hello.text

    make_stale(sandbox)
    source.write_text(sandbox.make_subject_token("rotated@example.com"))  # the platform rotated it
    again = run("token", "--host", sandbox.url, "--scopes", "sql")
    assert again.returncode == 0, again.stderr
    assert sandbox.stats.token_exchanges == 2
    assert again.stdout.strip() != record["access_token"]

    make_stale(sandbox)
    source.unlink()
    gone = run("token", "--host", sandbox.url, "--scopes", "sql")
    assert gone.returncode == 4
    assert f"scopedauth exchange --host {sandbox.url} --scopes sql --subject-token-file {source}" in gone.stderr
    assert sandbox.stats.token_exchanges == 2


def test_env_subject_token_and_expiry_of_the_source(sandbox: Sandbox, tmp_path: Path) -> None:
    subject = sandbox.make_subject_token()
    res = exchange(sandbox, "--subject-token-env", "IDP_JWT", env=base_env(IDP_JWT=subject))
    assert res.returncode == 0, res.stderr
    (record,) = records(tmp_path).values()
    assert record["grant"]["subject_token_env"] == "IDP_JWT"
    assert subject not in json.dumps(file_records(tmp_path)) + res.stderr

    make_stale(sandbox)
    unset = run("token", "--host", sandbox.url, "--scopes", "sql")
    assert unset.returncode == 4 and "$IDP_JWT" in unset.stderr and "--subject-token-env IDP_JWT" in unset.stderr
    stale_source = run(
        "token", "--host", sandbox.url, "-s", "sql", env=base_env(IDP_JWT=expired_subject_token(sandbox))
    )
    assert stale_source.returncode == 4
    assert "was refused (invalid_grant" in stale_source.stderr and "renew it" in stale_source.stderr
    ok = run("token", "--host", sandbox.url, "-s", "sql", env=base_env(IDP_JWT=sandbox.make_subject_token()))
    assert ok.returncode == 0, ok.stderr
    assert sandbox.stats.token_exchanges == 2


@pytest.mark.parametrize("kind", ["expired", "foreign-signature", "not-a-jwt"])
def test_bad_subject_token_is_typed_and_stores_nothing(sandbox: Sandbox, tmp_path: Path, kind: str) -> None:
    subject = {
        "expired": expired_subject_token(sandbox),
        "foreign-signature": hs256.encode({"sub": "x@example.com", "exp": time.time() + 300}, "another-idp"),
        "not-a-jwt": "opaque-token-from-somewhere",
    }[kind]
    res = exchange(sandbox, "--subject-token-env", "IDP_JWT", env=base_env(IDP_JWT=subject))
    assert res.returncode == 6, res.stderr
    assert "invalid_grant" in res.stderr
    assert subject not in res.stderr + res.stdout
    assert records(tmp_path) == {}


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ([], "exactly one of"),
        (["--subject-token-env", "A", "--subject-token-file", "/x"], "exactly one of"),
        (["--subject-token-env", "UNSET_IDP_VAR"], "$UNSET_IDP_VAR"),
        (["--subject-token-file", "/nonexistent/token"], "cannot read the subject token from the file"),
        (["--subject-token-env", "IDP_JWT", "--subject-token-type", "bad type"], "not a token type"),
    ],
)
def test_unusable_sources_are_config_errors(sandbox: Sandbox, args: list[str], expect: str) -> None:
    res = exchange(sandbox, *args, env=base_env(IDP_JWT=sandbox.make_subject_token()))
    assert res.returncode == 2, res.stderr
    assert expect in res.stderr
    assert sandbox.stats.token_requests == 0


def test_other_subject_token_types_pass_through(sandbox: Sandbox, tmp_path: Path) -> None:
    access_type = "urn:ietf:params:oauth:token-type:access_token"
    env = base_env(IDP_JWT=sandbox.make_subject_token())
    res = exchange(sandbox, "--subject-token-env", "IDP_JWT", "--subject-token-type", access_type, env=env)
    assert res.returncode == 0, res.stderr
    assert next(iter(records(tmp_path).values()))["grant"]["subject_token_type"] == access_type
    unsupported = exchange(sandbox, "--subject-token-env", "IDP_JWT", "--subject-token-type", "urn:x:saml", env=env)
    assert unsupported.returncode == 6 and "invalid_request" in unsupported.stderr


def test_exchange_over_a_user_login_revokes_it_and_says_so(
    sandbox: Sandbox, listener_port: int, tmp_path: Path
) -> None:
    user = user_login(sandbox, listener_port, "file", "sql")
    assert user.refresh_token
    res = exchange(sandbox, "--subject-token-env", "IDP_JWT", env=base_env(IDP_JWT=sandbox.make_subject_token()))
    assert res.returncode == 0, res.stderr
    assert f"replacing the stored user login for {user.target.describe()} (revoked its refresh token)" in res.stderr
    assert sandbox.stats.revocations == 1
    (record,) = records(tmp_path).values()
    assert record["grant"]["type"] == "token_exchange"
    with pytest.raises(InvalidGrantError):
        oauth.refresh(user)  # the replaced grant is dead at the server, not just forgotten here

    # a user login over the federated token: said too; it had no refresh token to revoke
    said: list[str] = []

    def login_as_user() -> scopedauth.Token:
        return scopedauth.login(
            host=sandbox.url, scopes="sql", store="file", port=listener_port, opener=scripted_user([]), say=said.append
        )

    again = login_as_user()
    assert again.grant is None and again.refresh_token
    assert f"scopedauth: replacing the stored federated token for {user.target.describe()}" in said
    assert sandbox.stats.revocations == 1

    # a second login of the same kind replaces quietly, as it always did
    said.clear()
    login_as_user()
    assert said and not [line for line in said if "replacing" in line]


@pytest.mark.parametrize(("client_id", "sent"), [(None, None), ("wif-app", ["wif-app"])])
def test_account_wide_federation_names_no_client(client_id: str | None, sent: list[str] | None) -> None:
    """Databricks reads an exchange without client_id as account-wide federation; --client-id selects WIF."""
    from scopedauth.grants import manage
    from scopedauth.storage.backends import MemoryBackend
    from scopedauth.storage.store import TokenStore
    from tests.localhttp import LocalOAuth

    server = LocalOAuth()
    server.metadata()
    os.environ["IDP_JWT_TEST"] = "header.payload.sig"
    try:
        manage.exchange(
            host=server.url,
            client_id=client_id,
            scopes="sql",
            subject_token_env="IDP_JWT_TEST",
            store=TokenStore(MemoryBackend()),
            say=lambda _m: None,
        )
    finally:
        server.close()
        del os.environ["IDP_JWT_TEST"]
    (form,) = server.token_posts
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:token-exchange"]
    assert form.get("client_id") == sent
