"""The sandbox against itself: a real server on loopback, driven with `requests`."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from scopedauth.sandbox import Sandbox, SandboxConfig, SandboxStats, hs256, records, state

REDIRECT = "http://localhost:8020"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(base: str, challenge: str | None, **overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "databricks-cli",
        "redirect_uri": REDIRECT,
        "scope": "sql offline_access",
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return f"{base}/v1/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def token(base: str, **form: str) -> requests.Response:
    return requests.post(f"{base}/v1/token", data=form, timeout=10)


def login(sb: Sandbox, scope: str = "sql offline_access", base: str | None = None) -> dict[str, Any]:
    base = base or f"{sb.url}/oidc"
    verifier, challenge = pkce()
    code = query(sb.approve_url(authorize_url(base, challenge, scope=scope)))["code"]
    answer = token(
        base,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id="databricks-cli",
        code_verifier=verifier,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def refresh(sb: Sandbox, refresh_token: str, **extra: str) -> requests.Response:
    return token(
        f"{sb.url}/oidc",
        grant_type="refresh_token",
        refresh_token=refresh_token,
        client_id="databricks-cli",
        **extra,
    )


def me(sb: Sandbox, access_token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return requests.get(f"{sb.url}/api/2.0/preview/scim/v2/Me", headers=headers, timeout=10)


def call_app(sb: Sandbox, path: str, access_token: str | None, method: str = "GET") -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return requests.request(method, sb.app_url + path, headers=headers, timeout=10)


def oauth_error(response: requests.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error
    assert isinstance(body.get("error_description", ""), str)


# -- discovery ---------------------------------------------------------------------------------------


def test_workspace_discovery(sb: Sandbox) -> None:
    assert sb.url.startswith("http://127.0.0.1:")
    assert sb.app_url.startswith("http://127.0.0.1:")
    assert sb.url != sb.app_url
    doc = requests.get(f"{sb.url}/oidc/.well-known/oauth-authorization-server", timeout=10).json()
    assert doc["issuer"] == f"{sb.url}/oidc"
    assert doc["authorization_endpoint"] == f"{sb.url}/oidc/v1/authorize"
    assert doc["token_endpoint"] == f"{sb.url}/oidc/v1/token"
    assert doc["revocation_endpoint"] == f"{sb.url}/oidc/v1/revoke"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert {"authorization_code", "refresh_token", "client_credentials", TOKEN_EXCHANGE} <= set(
        doc["grant_types_supported"]
    )
    assert {"none", "client_secret_basic", "client_secret_post"} <= set(doc["token_endpoint_auth_methods_supported"])
    wanted = {"all-apis", "sql", "files.files", "file.files", "dashboards.genie", "offline_access"}
    assert wanted <= set(doc["scopes_supported"])
    assert requests.get(doc["jwks_uri"], timeout=10).json() == {"keys": []}


def test_discovery_can_hide_revocation() -> None:
    with Sandbox(SandboxConfig(advertise_revocation=False)) as sandbox:
        doc = requests.get(f"{sandbox.url}/oidc/.well-known/oauth-authorization-server", timeout=10).json()
    assert "revocation_endpoint" not in doc
    assert doc["token_endpoint"].endswith("/oidc/v1/token")


def test_account_discovery_and_unknown_account(sb: Sandbox) -> None:
    account = sb.config.account_id
    base = f"{sb.url}/oidc/accounts/{account}"
    doc = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json()
    assert doc["issuer"] == base
    assert doc["authorization_endpoint"] == f"{base}/v1/authorize"
    assert doc["token_endpoint"] == f"{base}/v1/token"
    assert doc["revocation_endpoint"] == f"{base}/v1/revoke"
    other = f"{sb.url}/oidc/accounts/not-{account}"
    assert requests.get(f"{other}/.well-known/oauth-authorization-server", timeout=10).status_code == 404
    assert requests.post(f"{other}/v1/token", data={"grant_type": "x"}, timeout=10).status_code == 404
    assert requests.get(f"{other}/v1/authorize", timeout=10).status_code == 404


def test_databricks_config(sb: Sandbox) -> None:
    doc = requests.get(f"{sb.url}/.well-known/databricks-config", timeout=10).json()
    assert doc == {
        "oidc_endpoint": f"{sb.url}/oidc",
        "workspace_id": "1234567890",
        "account_id": sb.config.account_id,
    }


# -- authorization code + PKCE ----------------------------------------------------------------------


def test_full_code_flow(sb: Sandbox) -> None:
    verifier, challenge = pkce()
    location = sb.approve_url(authorize_url(f"{sb.url}/oidc", challenge, scope="sql offline_access"))
    assert location.startswith(REDIRECT + "?")
    params = query(location)
    assert params["state"] == "st-123"
    assert "iss" not in params
    form = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT}
    form |= {"client_id": "databricks-cli", "code_verifier": verifier, "scope": "sql offline_access"}
    answer = token(f"{sb.url}/oidc", **form)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "sql offline_access"
    assert body["access_token"] and body["refresh_token"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert me(sb, body["access_token"]).json()["userName"] == "demo@example.com"
    stats = sb.stats.snapshot()
    assert (stats["authorize_requests"], stats["codes_issued"], stats["code_exchanges"]) == (1, 1, 1)
    assert stats["token_requests"] == 1
    reused = token(f"{sb.url}/oidc", **form)  # a code works once
    oauth_error(reused, 400, "invalid_grant")
    assert sb.stats.code_exchanges == 1


def test_consent_page_shape_and_escaping(sb: Sandbox) -> None:
    _, challenge = pkce()
    url = authorize_url(f"{sb.url}/oidc", challenge, state='<script>alert("x")</script>', scope="sql x<y")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    html = page.text
    assert "Sign in to the sandbox workspace as demo@example.com" in html
    for marker in ('id="consent"', 'id="allow"', 'id="deny"', 'name="decision" value="allow"'):
        assert marker in html
    assert 'value="deny"' in html and 'name="csrf_token"' in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "x&lt;y" in html
    assert "http://" not in page.headers["Content-Security-Policy"]


def test_consent_form_is_single_use_and_tamper_proof(sb: Sandbox) -> None:
    _, challenge = pkce()
    html = requests.get(authorize_url(f"{sb.url}/oidc", challenge), timeout=10).text
    hidden = dict(
        (part.split('name="')[1].split('"')[0], part.split('value="')[1].split('"')[0])
        for part in html.split("<input")[1:]
    )
    form = hidden | {"decision": "allow"}
    tampered = requests.post(
        f"{sb.url}/oidc/v1/authorize", data=form | {"scope": "all-apis"}, allow_redirects=False, timeout=10
    )
    assert tampered.status_code == 400 and "Location" not in tampered.headers
    html = requests.get(authorize_url(f"{sb.url}/oidc", challenge), timeout=10).text
    csrf = html.split('name="csrf_token" value="')[1].split('"')[0]
    form["csrf_token"] = csrf
    first = requests.post(f"{sb.url}/oidc/v1/authorize", data=form, allow_redirects=False, timeout=10)
    assert first.status_code == 302 and "code" in query(first.headers["Location"])
    again = requests.post(f"{sb.url}/oidc/v1/authorize", data=form, allow_redirects=False, timeout=10)
    assert again.status_code == 400 and "Location" not in again.headers


def test_deny(sb: Sandbox) -> None:
    _, challenge = pkce()
    location = sb.deny_url(authorize_url(f"{sb.url}/oidc", challenge))
    assert location.startswith(REDIRECT + "?")
    assert query(location) == {
        "error": "access_denied",
        "error_description": "The user denied the request",
        "state": "st-123",
    }
    assert "error_description=The+user+denied+the+request" in location
    assert sb.stats.codes_issued == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
        {"code_challenge": None},
        {"code_challenge": None, "code_challenge_method": None},
    ],
)
def test_pkce_s256_required_at_authorize(sb: Sandbox, overrides: dict[str, str | None]) -> None:
    _, challenge = pkce()
    url = authorize_url(f"{sb.url}/oidc", challenge, **overrides)
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    params = query(answer.headers["Location"])
    assert answer.headers["Location"].startswith(REDIRECT)
    assert params["error"] == "invalid_request"
    assert params["state"] == "st-123"
    assert sb.approve_url(url) == answer.headers["Location"]  # no consent page to approve
    assert sb.stats.codes_issued == 0


def test_pkce_verifier_checked_at_token(sb: Sandbox) -> None:
    verifier, challenge = pkce()
    base = f"{sb.url}/oidc"
    code = query(sb.approve_url(authorize_url(base, challenge)))["code"]
    common = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    common["client_id"] = "databricks-cli"
    oauth_error(token(base, **common), 400, "invalid_request")  # no verifier
    oauth_error(token(base, **common, code_verifier=pkce()[0]), 400, "invalid_grant")  # wrong verifier
    ok = token(base, **common, code_verifier=verifier)
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"redirect_uri": "http://localhost:8021"}, "redirect"),
        ({"redirect_uri": "http://localhost:8020/"}, "redirect"),
        ({"redirect_uri": None}, "redirect_uri"),
        ({"client_id": "no-such-client"}, "client"),
    ],
)
def test_bad_client_or_redirect_is_an_error_page(sb: Sandbox, overrides: dict[str, str | None], message: str) -> None:
    _, challenge = pkce()
    answer = requests.get(authorize_url(f"{sb.url}/oidc", challenge, **overrides), allow_redirects=False, timeout=10)
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert answer.headers["Content-Type"].startswith("text/html")
    assert message in answer.text.lower()


def test_redirect_uri_must_match_at_token(sb: Sandbox) -> None:
    verifier, challenge = pkce()
    base = f"{sb.url}/oidc"
    code = query(sb.approve_url(authorize_url(base, challenge)))["code"]
    answer = token(
        base,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://localhost:8020/other",
        client_id="databricks-cli",
        code_verifier=verifier,
    )
    oauth_error(answer, 400, "invalid_grant")


def test_codes_expire_after_five_minutes(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    verifier, challenge = pkce()
    base = f"{sb.url}/oidc"
    code = query(sb.approve_url(authorize_url(base, challenge)))["code"]

    class Later:
        @staticmethod
        def time() -> float:
            return time.time() + 301

    monkeypatch.setattr(records, "time", Later)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    answer = token(base, **form, client_id="databricks-cli", code_verifier=verifier)
    oauth_error(answer, 400, "invalid_grant")


def test_unknown_scopes_pass_through_and_no_refresh_without_offline_access(sb: Sandbox) -> None:
    body = login(sb, scope="sql made.up:scope")
    assert body["scope"] == "sql made.up:scope"
    assert "refresh_token" not in body
    assert me(sb, body["access_token"]).status_code == 200


def test_unknown_public_client_at_token_is_401(sb: Sandbox) -> None:
    answer = token(f"{sb.url}/oidc", grant_type="authorization_code", code="x", client_id="nobody")
    oauth_error(answer, 401, "invalid_client")
    oauth_error(
        token(f"{sb.url}/oidc", grant_type="password", client_id="databricks-cli"),
        400,
        "unsupported_grant_type",
    )


# -- refresh ----------------------------------------------------------------------------------------


def test_refresh_rotates_and_reuse_revokes_the_family(sb: Sandbox) -> None:
    first = login(sb)
    second = refresh(sb, first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert rotated["scope"] == "sql offline_access"
    assert sb.stats.refreshes == 1
    assert me(sb, rotated["access_token"]).status_code == 200

    oauth_error(refresh(sb, first["refresh_token"]), 400, "invalid_grant")  # reuse
    assert sb.stats.family_revocations == 1
    assert sb.stats.refresh_failures == 1
    oauth_error(refresh(sb, rotated["refresh_token"]), 400, "invalid_grant")  # family is dead
    assert sb.stats.family_revocations == 1
    assert sb.stats.refresh_failures == 2
    assert me(sb, rotated["access_token"]).status_code == 401
    assert me(sb, first["access_token"]).status_code == 401
    other = login(sb)  # another login is another family
    assert refresh(sb, other["refresh_token"]).status_code == 200


def test_refresh_may_narrow_scope_but_keeps_the_grant(sb: Sandbox) -> None:
    first = login(sb, scope="sql files.files offline_access")
    narrow = refresh(sb, first["refresh_token"], scope="sql")
    assert narrow.status_code == 200, narrow.text
    assert narrow.json()["scope"] == "sql"
    full = refresh(sb, narrow.json()["refresh_token"])
    assert full.json()["scope"] == "sql files.files offline_access"
    wider = refresh(sb, full.json()["refresh_token"], scope="sql all-apis")
    oauth_error(wider, 400, "invalid_scope")


def test_refresh_token_belongs_to_its_realm(sb: Sandbox) -> None:
    first = login(sb)
    account = f"{sb.url}/oidc/accounts/{sb.config.account_id}"
    answer = token(
        account, grant_type="refresh_token", refresh_token=first["refresh_token"], client_id="databricks-cli"
    )
    oauth_error(answer, 400, "invalid_grant")
    assert sb.stats.family_revocations == 0


def test_concurrent_refresh_exactly_one_wins(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    first = login(sb)
    save_tokens = state.Store.save_tokens

    def slow_save(self: state.Store, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.02)  # widen the race window between "token is valid" and "token rotated"
        save_tokens(self, *args, **kwargs)

    monkeypatch.setattr(state.Store, "save_tokens", slow_save)
    barrier = threading.Barrier(32)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        status = refresh(sb, first["refresh_token"]).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200] + [400] * 31
    assert sb.stats.refreshes == 1
    assert sb.stats.refresh_failures == 31
    assert sb.stats.family_revocations == 1


def test_expire_access_tokens_forces_a_refresh(sb: Sandbox) -> None:
    first = login(sb)
    assert call_app(sb, "/api/hello", first["access_token"]).status_code == 200
    sb.expire_access_tokens()
    expired = me(sb, first["access_token"])
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]
    assert "expired" in call_app(sb, "/api/hello", first["access_token"]).json()["message"]
    fresh = refresh(sb, first["refresh_token"]).json()
    assert me(sb, fresh["access_token"]).status_code == 200


def test_fail_next_token_requests(sb: Sandbox) -> None:
    first = login(sb)
    sb.fail_next_token_requests(2)
    for _ in range(2):
        failed = refresh(sb, first["refresh_token"])
        assert failed.status_code == 503
        assert failed.json()["error"] == "temporarily_unavailable"
    sb.fail_next_token_requests(1, status=500)
    assert refresh(sb, first["refresh_token"]).status_code == 500
    ok = refresh(sb, first["refresh_token"])  # the injected failures did not consume the token
    assert ok.status_code == 200, ok.text
    assert sb.stats.token_requests == 5  # login + 3 failures + 1 success
    assert sb.stats.refreshes == 1
    assert sb.stats.refresh_failures == 0


# -- other grants -----------------------------------------------------------------------------------


def test_client_credentials(sb: Sandbox) -> None:
    base = f"{sb.url}/oidc"
    basic = requests.post(
        f"{base}/v1/token",
        data={"grant_type": "client_credentials", "scope": "all-apis"},
        auth=("sp-client", "sp-secret"),
        timeout=10,
    )
    assert basic.status_code == 200, basic.text
    assert basic.json()["scope"] == "all-apis"
    assert "refresh_token" not in basic.json()
    assert me(sb, basic.json()["access_token"]).json()["userName"] == "sp-client"
    post = token(base, grant_type="client_credentials", client_id="sp-client", client_secret="sp-secret")
    assert post.status_code == 200, post.text
    assert sb.stats.client_credentials == 2
    wrong = requests.post(
        f"{base}/v1/token", data={"grant_type": "client_credentials"}, auth=("sp-client", "nope"), timeout=10
    )
    oauth_error(wrong, 401, "invalid_client")
    oauth_error(
        token(base, grant_type="client_credentials", client_id="sp-client", client_secret="nope"),
        401,
        "invalid_client",
    )
    oauth_error(token(base, grant_type="client_credentials", client_id="sp-client"), 401, "invalid_client")
    public = token(base, grant_type="client_credentials", client_id="databricks-cli")
    oauth_error(public, 400, "unauthorized_client")
    assert sb.stats.client_credentials == 2


def test_token_exchange(sb: Sandbox) -> None:
    base = f"{sb.url}/oidc"
    form = {"grant_type": TOKEN_EXCHANGE, "subject_token_type": JWT_TYPE, "client_id": "databricks-cli"}
    good = token(base, **form, subject_token=sb.make_subject_token("fed@example.com"), scope="sql")
    assert good.status_code == 200, good.text
    body = good.json()
    assert body["scope"] == "sql" and body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    assert me(sb, body["access_token"]).json()["userName"] == "fed@example.com"
    assert sb.stats.token_exchanges == 1

    forged = hs256.encode({"sub": "evil@example.com"}, "wrong-secret")
    oauth_error(token(base, **form, subject_token=forged), 400, "invalid_grant")
    stale = hs256.encode({"sub": "x@example.com", "exp": int(time.time()) - 10}, "federation-secret")
    oauth_error(token(base, **form, subject_token=stale), 400, "invalid_grant")
    no_sub = hs256.encode({"iss": "x"}, "federation-secret")
    oauth_error(token(base, **form, subject_token=no_sub), 400, "invalid_grant")
    oauth_error(token(base, **form, subject_token="not-a-jwt"), 400, "invalid_grant")
    oauth_error(token(base, **form), 400, "invalid_request")
    wrong_type = form | {"subject_token_type": "urn:x", "subject_token": sb.make_subject_token()}
    oauth_error(token(base, **wrong_type), 400, "invalid_request")
    for kind in ("access_token", "id_token"):
        typed = form | {"subject_token_type": f"urn:ietf:params:oauth:token-type:{kind}"}
        assert token(base, **typed, subject_token=sb.make_subject_token()).status_code == 200
    assert sb.stats.token_exchanges == 3


def test_revocation(sb: Sandbox) -> None:
    base = f"{sb.url}/oidc"
    first = login(sb)
    second = refresh(sb, first["refresh_token"]).json()

    def revoke(value: str, **extra: str) -> requests.Response:
        data = {"token": value, "client_id": "databricks-cli", **extra}
        return requests.post(f"{base}/v1/revoke", data=data, timeout=10)

    assert revoke("unknown-token").status_code == 200
    assert revoke(second["refresh_token"], token_type_hint="refresh_token").status_code == 200
    oauth_error(refresh(sb, second["refresh_token"]), 400, "invalid_grant")
    assert me(sb, second["access_token"]).status_code == 401  # the family went with it
    assert sb.stats.family_revocations == 0  # a logout is not a reuse

    other = login(sb)
    assert revoke(other["access_token"], token_type_hint="access_token").status_code == 200
    assert me(sb, other["access_token"]).status_code == 401
    assert refresh(sb, other["refresh_token"]).status_code == 200  # only the access token died
    assert sb.stats.revocations == 3
    oauth_error(requests.post(f"{base}/v1/revoke", data={"token": "x"}, timeout=10), 401, "invalid_client")


def test_account_tokens_are_separate(sb: Sandbox) -> None:
    account = f"{sb.url}/oidc/accounts/{sb.config.account_id}"
    page = requests.get(authorize_url(account, pkce()[1]), timeout=10)
    assert "Sign in to the sandbox account as demo@example.com" in page.text
    assert f'action="/oidc/accounts/{sb.config.account_id}/v1/authorize"' in page.text
    body = login(sb, base=account)
    assert body["scope"] == "sql offline_access"
    assert me(sb, body["access_token"]).status_code == 401  # not a workspace token
    assert call_app(sb, "/api/hello", body["access_token"]).status_code == 401
    rotated = token(
        account, grant_type="refresh_token", refresh_token=body["refresh_token"], client_id="databricks-cli"
    )
    assert rotated.status_code == 200, rotated.text
    verifier, challenge = pkce()
    workspace_code = query(sb.approve_url(authorize_url(f"{sb.url}/oidc", challenge)))["code"]
    crossed = token(
        account,
        grant_type="authorization_code",
        code=workspace_code,
        redirect_uri=REDIRECT,
        client_id="databricks-cli",
        code_verifier=verifier,
    )
    oauth_error(crossed, 400, "invalid_grant")


# -- resource servers ----------------------------------------------------------------------------


def test_scim_me(sb: Sandbox) -> None:
    missing = me(sb, None)
    assert missing.status_code == 401
    assert missing.json()["error_code"] == "UNAUTHENTICATED"
    assert isinstance(missing.json()["message"], str)
    assert me(sb, "bogus").status_code == 401
    good = me(sb, sb.issue_access_token(["iam.current-user:read"]))
    assert good.status_code == 200
    user = good.json()
    assert user["userName"] == "demo@example.com"
    assert user["active"] is True and user["id"]
    assert user["emails"][0]["value"] == "demo@example.com"
    assert me(sb, sb.issue_access_token(["sql"], lifetime=0)).status_code == 401


def test_sample_app(sb: Sandbox) -> None:
    sql = sb.issue_access_token(["sql"])
    ok = call_app(sb, "/api/hello", sql)
    assert ok.status_code == 200
    assert ok.json() == {
        "user": "demo@example.com",
        "path": "/api/hello",
        "method": "GET",
        "scopes": ["sql"],
    }
    assert call_app(sb, "/api/hello", sql, method="POST").json()["method"] == "POST"

    forbidden = call_app(sb, "/api/genie", sql)
    assert forbidden.status_code == 403
    assert "Provided OAuth token does not have required scopes: dashboards.genie" in forbidden.text
    assert call_app(sb, "/api/files", sb.issue_access_token(["files.files"])).status_code == 200

    for bad in (None, "bogus"):
        answer = call_app(sb, "/api/hello", bad)
        assert answer.status_code == 401 and answer.json()["message"]
    expired = call_app(sb, "/api/hello", sb.issue_access_token(["sql"], lifetime=-5))
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]
    assert call_app(sb, "/api/nope", sql).status_code == 404
    assert call_app(sb, "/elsewhere", sql).status_code == 404
    home = call_app(sb, "/", None)
    assert home.status_code == 200 and home.headers["Content-Type"].startswith("text/html")
    assert "/api/hello" in home.text


def test_sample_app_custom_routes() -> None:
    config = SandboxConfig(app_scopes={"/api/both": ["sql", "files.files"]})
    with Sandbox(config) as sandbox:
        only_sql = sandbox.issue_access_token(["sql"])
        answer = call_app(sandbox, "/api/both", only_sql)
        assert answer.status_code == 403
        assert "Provided OAuth token does not have required scopes: files.files" in answer.text
        none = call_app(sandbox, "/api/both", sandbox.issue_access_token(["all-apis"]))
        assert "required scopes: sql files.files" in none.text
        assert call_app(sandbox, "/api/hello", only_sql).status_code == 404


def test_stats_type_and_reset(sb: Sandbox) -> None:
    assert isinstance(sb.stats, SandboxStats)
    login(sb)
    assert sb.stats.token_requests == 1
    sb.stats.reset()
    assert set(sb.stats.snapshot().values()) == {0}


# -- transport --------------------------------------------------------------------------------------


def _openssl_cert(cert: Path, key: Path) -> None:
    args = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    args += ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"]
    args += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(args, check=True, capture_output=True)


def _cryptography_cert(cert: Path, key: Path) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key.write_bytes(pem)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1: `cryptography` if installed, else the openssl CLI."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    try:
        import cryptography  # noqa: F401
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither cryptography nor openssl is available")
        _openssl_cert(cert, key)
    else:
        _cryptography_cert(cert, key)
    return cert, key


def test_tls(tmp_path: Path) -> None:
    import ssl

    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with Sandbox(SandboxConfig(ssl_context=context)) as sandbox:
        assert sandbox.url.startswith("https://127.0.0.1:")
        assert sandbox.app_url.startswith("https://127.0.0.1:")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{sandbox.url}/.well-known/databricks-config", timeout=10)
        doc = requests.get(
            f"{sandbox.url}/oidc/.well-known/oauth-authorization-server", verify=str(cert), timeout=10
        ).json()
        AuthorizationServerMetadata(doc).validate()  # https everywhere, RFC 8414 shape
        verifier, challenge = pkce()
        code = query(sandbox.approve_url(authorize_url(doc["issuer"], challenge)))["code"]
        answer = requests.post(
            doc["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": "databricks-cli",
                "code_verifier": verifier,
            },
            verify=str(cert),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        hello = requests.get(f"{sandbox.app_url}/api/hello", headers=headers, verify=str(cert), timeout=10)
        assert hello.status_code == 200


def test_lifecycle_releases_ports() -> None:
    sandbox = Sandbox().start()
    url, app_url = sandbox.url, sandbox.app_url
    port = urlsplit(url).port
    with pytest.raises(RuntimeError):
        sandbox.start()
    sandbox.stop()
    for dead in (url, app_url):
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(dead, timeout=2)
    assert port is not None
    with Sandbox(port=port) as again:  # the port is free again
        assert again.url == url


def test_python_m_sandbox() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    with subprocess.Popen(
        [sys.executable, "-m", "scopedauth.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            name, app_url = proc.stdout.readline().split()
            assert name == "sample"
            assert url.startswith("http://127.0.0.1:") and app_url.startswith("http://127.0.0.1:")
            doc = requests.get(f"{url}/oidc/.well-known/oauth-authorization-server", timeout=10).json()
            assert doc["issuer"] == f"{url}/oidc"
            assert requests.get(app_url, timeout=10).status_code == 200
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Ctrl-C" in err
