"""``credentials_strategy(...)`` as databricks-sql-connector's ``credentials_provider``, with the
real connector.

The connector speaks only HTTPS, so it talks to a local TLS server (a throw-away CA from
tests/pki.py) that records the Authorization header of the Thrift OpenSession POST and answers
nonsense: the test is about what the connector sent, not about SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import scopedauth
from scopedauth.sandbox import Sandbox
from scopedauth.storage.backends import MemoryBackend
from scopedauth.storage.store import TokenStore
from tests.localhttp import Recorder
from tests.pki import Pki, make_pki
from tests.users import user_login


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def warehouse(pki: Pki) -> Iterator[Recorder]:
    server = Recorder(200, tls=pki.server_context())
    yield server
    server.close()


def connect_headers(warehouse: Recorder, pki: Pki, provider: object) -> list[str | None]:
    """Connect with the real connector; the Authorization headers the warehouse saw."""
    from databricks import sql

    with pytest.raises(Exception, match="Error during request to server"):  # our warehouse answers nonsense
        sql.connect(
            server_hostname="localhost",
            port=warehouse.port,
            http_path="/sql/1.0/warehouses/abc",
            credentials_provider=provider,
            _tls_trusted_ca_file=str(pki.ca),
            _retry_stop_after_attempts_count=1,
        )
    return [auth for _, auth, _ in warehouse.seen]


def test_the_sql_connector_sends_the_scoped_token(
    sandbox: Sandbox, listener_port: int, warehouse: Recorder, pki: Pki
) -> None:
    store = TokenStore(MemoryBackend())
    token = user_login(sandbox, listener_port, store)
    provider = scopedauth.credentials_strategy(host=sandbox.url, scopes="sql", store=store)
    assert connect_headers(warehouse, pki, provider) == [f"Bearer {token.access_token}"]


def test_the_sql_connector_fails_with_the_login_command_when_nothing_is_stored(sandbox: Sandbox) -> None:
    provider = scopedauth.credentials_strategy(host=sandbox.url, scopes="sql", store=TokenStore(MemoryBackend()))
    with pytest.raises(scopedauth.LoginRequiredError) as info:
        provider()
    assert info.value.command == f"scopedauth login --host {sandbox.url} --scopes sql"


def test_the_sql_connector_through_a_saved_profile(
    sandbox: Sandbox, listener_port: int, warehouse: Recorder, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No scopedauth code in the program: the connector asks databricks-sdk's Config, which runs
    scopedauth-databricks-cli for a profile saved with --save-profile."""
    import os

    from databricks.sdk.core import Config

    from scopedauth.handoff import sdk_profile

    monkeypatch.setenv("SCOPEDAUTH_STORAGE", "file")
    Path(os.environ["DATABRICKS_CONFIG_FILE"]).write_text(f"[dev]\nhost = {sandbox.url}\n")
    token = user_login(sandbox, listener_port, "file", profile="dev")
    sdk_profile.save_profile("dev", token.target.scopes)
    config = Config(profile="dev")
    assert connect_headers(warehouse, pki, lambda: config.authenticate) == [f"Bearer {token.access_token}"]
