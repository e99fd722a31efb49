"""``scopedauth hosted keygen | migrate | rotate-keys`` as separate processes."""

from __future__ import annotations

from contextlib import closing

import pytest

from scopedauth.errors import ConfigError
from scopedauth.hosted.backends import open_store
from scopedauth.hosted.keys import KEYS_ENV, Keyring
from scopedauth.hosted.model import SCHEMA_VERSION
from scopedauth.sandbox import Sandbox

from ..clitools import base_env, run
from .conftest import Replica
from .webapp import Browser


def test_keygen_prints_a_usable_key() -> None:
    done = run("hosted", "keygen", "--kid", "2026a")
    assert done.returncode == 0, done.stderr
    assert Keyring(done.stdout.strip()).primary == "2026a"
    assert run("hosted", "keygen").stdout.strip() not in (done.stdout.strip(), "")


def test_migrate(store_url: str) -> None:
    """The CLI on SQLite; the contract suite migrates PostgreSQL and Redis."""
    done = run("hosted", "migrate", "--store", store_url)
    assert done.returncode == 0, done.stderr
    assert f"schema version {SCHEMA_VERSION}" in done.stderr
    with closing(open_store(store_url)) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_rotate_keys_reencrypts_under_the_first_key(replica: Replica, sandbox: Sandbox, key_spec: str) -> None:
    browser = Browser()
    browser.sign_in(replica.url, sandbox)
    before = browser.get(replica.url + "/api/whoami").json()
    new = run("hosted", "keygen", "--kid", "k2").stdout.strip()
    done = run("hosted", "rotate-keys", "--store", replica.store.url, env=base_env(**{KEYS_ENV: f"{new},{key_spec}"}))
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 1 session(s) under k2" in done.stderr
    assert replica.only_row().kid == "k2"
    replica.auth.service.refresher.keys = replica.auth.service.keys = Keyring(new)  # the old key is gone
    assert browser.get(replica.url + "/api/whoami").json() == before


def test_bad_keys_and_stores_are_one_line_errors() -> None:
    bad = run("hosted", "rotate-keys", "--store", "sqlite:///x.db", env=base_env(**{KEYS_ENV: "nonsense"}))
    assert bad.returncode == 2 and bad.stderr.startswith("scopedauth: error: ") and "Traceback" not in bad.stderr
    unknown = run("hosted", "migrate", "--store", "mysql://u:hunter2@db/x")
    assert unknown.returncode == 2 and "unsupported" in unknown.stderr and "hunter2" not in unknown.stderr


def test_unknown_store_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported"):
        open_store("mysql://x")
