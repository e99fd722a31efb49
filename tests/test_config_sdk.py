"""Differential test: our profile/env resolution against the real databricks-sdk ``Config``.

scopedauth parses ``~/.databrickscfg`` with :mod:`configparser` instead of importing the SDK (which
costs most of a second), so this file runs the real ``databricks.sdk.core.Config`` on the same
config files, environment variables and explicit arguments and compares what both resolve: host,
account_id, client_id, scopes (before ``offline_access`` is added) and profile name.

How the SDK is kept off the network, and why this way:

* Auth: a trivial :class:`CredentialsStrategy` that returns a header function, so ``init_auth``
  needs no server.
* Host metadata: ``Config()`` GETs ``{host}/.well-known/databricks-config`` and, on *any* exception,
  logs a warning and keeps the explicit configuration. We replace only that network function,
  ``databricks.sdk.config.get_host_metadata``, with one that raises — exactly what an unreachable
  host produces — so none of the SDK's resolution logic is touched. The alternative (real-looking
  hosts with ``retry_timeout_seconds=1``) depends on DNS and network behaviour of the machine and
  costs a second or more per case.

Differences that are deliberate are not in the main table: ``test_documented_differences`` pins
each of them (both the SDK's and our behaviour), so a change in either shows up here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scopedauth.config import (
    DEFAULT_CLIENT_ID,
    OFFLINE_ACCESS,
    _is_account_host,
    _merge_sources,
    canonical_host,
    parse_scopes,
    resolve_target,
)
from scopedauth.databrickscfg import AUTH_ENV
from scopedauth.errors import ConfigError

sdk_config = pytest.importorskip("databricks.sdk.config")
from databricks.sdk.credentials_provider import CredentialsStrategy  # noqa: E402


class NoNetworkAuth(CredentialsStrategy):
    """Authentication that needs no server: every request would carry a fixed header."""

    def auth_type(self) -> str:
        return "scopedauth-test"

    def __call__(self, cfg: Any) -> Callable[[], dict[str, str]]:
        return lambda: {"Authorization": "Bearer test"}


@pytest.fixture
def sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``Config(**kwargs)`` with the host-metadata fetch failing as for an unreachable host."""
    calls: list[str] = []

    def unreachable(host: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(host)
        raise ConnectionError(f"{host} is unreachable in tests")

    monkeypatch.setattr(sdk_config, "get_host_metadata", unreachable)

    def make(**kwargs: Any) -> Any:
        return sdk_config.Config(
            credentials_strategy=NoNetworkAuth(), retry_timeout_seconds=1, http_timeout_seconds=1, **kwargs
        )

    yield make


FILE = """\
[DEFAULT]
host = https://default.cloud.databricks.com
scopes = sql

[dev]
host = dev.cloud.databricks.com/
client_id = dev-app
scopes = sql, files.files sql  dashboards.genie
account_id = 1111-dev

[acct]
host = https://accounts.cloud.databricks.com
account_id = acct-123
scopes = all-apis

[dod]
host = https://accounts-dod.cloud.databricks.mil
account_id = dod-1

[azure]
HOST = https://adb-1.azuredatabricks.net:443/
Client_ID = azure-app

[norefresh]
host = https://nr.cloud.databricks.com
scopes = sql
disable_oauth_refresh_token = true
"""
SETTINGS = "[__settings__]\ndefault_profile = dev\n\n" + FILE


@dataclass
class Case:
    id: str
    file: str | None = FILE
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    #: sanity anchor so a case cannot pass by both sides resolving nothing: the expected host
    #: (None: no host resolved; "error": both refuse)
    host: str | None = None


DEFAULT_HOST = "https://default.cloud.databricks.com"
DEV_HOST = "https://dev.cloud.databricks.com"
ACCT_HOST = "https://accounts.cloud.databricks.com"
ENV_HOST = "https://env.cloud.databricks.com"
ARG_HOST = "https://arg.cloud.databricks.com"

CASES = [
    Case("default-fallback", host=DEFAULT_HOST),
    Case("env-profile", env={"DATABRICKS_CONFIG_PROFILE": "dev"}, host=DEV_HOST),
    Case(
        "arg-profile-beats-env-profile",
        env={"DATABRICKS_CONFIG_PROFILE": "dev"},
        args={"profile": "acct"},
        host=ACCT_HOST,
    ),
    Case("settings-default-profile", file=SETTINGS, host=DEV_HOST),
    Case("env-profile-beats-settings", file=SETTINGS, env={"DATABRICKS_CONFIG_PROFILE": "acct"}, host=ACCT_HOST),
    Case("explicit-DEFAULT-beats-settings", file=SETTINGS, args={"profile": "DEFAULT"}, host=DEFAULT_HOST),
    Case("settings-blank-default-profile", file="[__settings__]\ndefault_profile =  \n" + FILE, host=DEFAULT_HOST),
    Case("no-default-section", file="[dev]\nhost = https://dev.cloud.databricks.com\n", host=None),
    Case("empty-default-section", file="[DEFAULT]\n[dev]\nhost = https://dev.cloud.databricks.com\n", host=None),
    Case("no-file", file=None, host=None),
    Case("named-profile-missing", args={"profile": "prod"}, host="error"),
    Case("env-profile-missing", env={"DATABRICKS_CONFIG_PROFILE": "prod"}, host="error"),
    Case("settings-profile-missing", file="[__settings__]\ndefault_profile = prod\n" + FILE, host="error"),
    Case("settings-section-as-profile", args={"profile": "__settings__"}, host="error"),
    Case("env-host-skips-file", env={"DATABRICKS_HOST": ENV_HOST}, host=ENV_HOST),
    Case("arg-host-skips-file", args={"host": "arg.cloud.databricks.com/"}, host=ARG_HOST),
    Case("arg-host-beats-env-host", env={"DATABRICKS_HOST": ENV_HOST}, args={"host": ARG_HOST}, host=ARG_HOST),
    Case(
        "env-host-with-env-profile",
        env={"DATABRICKS_HOST": ENV_HOST, "DATABRICKS_CONFIG_PROFILE": "dev"},
        host=ENV_HOST,
    ),
    Case("arg-host-with-arg-profile", args={"host": ARG_HOST, "profile": "dev"}, host=ARG_HOST),
    Case("empty-env-host-ignored", env={"DATABRICKS_HOST": ""}, host=DEFAULT_HOST),
    Case(
        "env-client-with-profile",
        env={"DATABRICKS_CLIENT_ID": "env-app", "DATABRICKS_CONFIG_PROFILE": "dev"},
        host=DEV_HOST,
    ),
    Case(
        "arg-client-beats-env-client",
        env={"DATABRICKS_CLIENT_ID": "env-app"},
        args={"client_id": "arg-app", "profile": "dev"},
        host=DEV_HOST,
    ),
    Case("env-client-skips-file", env={"DATABRICKS_CLIENT_ID": "env-app"}, host=None),
    Case("arg-client-skips-file", args={"client_id": "arg-app"}, host=None),
    Case("env-token-skips-file", env={"DATABRICKS_TOKEN": "dapi-test"}, host=None),
    Case("env-oidc-alias-skips-file", env={"DATABRICKS_OIDC_TOKEN_FILE": "/tmp/token"}, host=None),
    Case("env-arm-use-msi-false-skips-file", env={"ARM_USE_MSI": "false"}, host=None),
    Case(
        "env-client-and-host",
        env={"DATABRICKS_CLIENT_ID": "env-app", "DATABRICKS_HOST": "h.gcp.databricks.com"},
        host="https://h.gcp.databricks.com",
    ),
    Case("arg-scopes-beat-profile", args={"profile": "dev", "scopes": "dashboards.genie, sql"}, host=DEV_HOST),
    Case("profile-scopes-deduped-sorted", args={"profile": "dev"}, host=DEV_HOST),
    Case("account-profile", args={"profile": "acct"}, host=ACCT_HOST),
    Case(
        "env-account-beats-profile", env={"DATABRICKS_ACCOUNT_ID": "env-acct"}, args={"profile": "acct"}, host=ACCT_HOST
    ),
    Case(
        "arg-account-beats-env",
        env={"DATABRICKS_ACCOUNT_ID": "env-acct"},
        args={"profile": "acct", "account_id": "arg-acct"},
        host=ACCT_HOST,
    ),
    Case("account-dod-host", args={"profile": "dod"}, host="https://accounts-dod.cloud.databricks.mil"),
    Case(
        "account-host-from-env",
        env={"DATABRICKS_HOST": "accounts.gcp.databricks.com", "DATABRICKS_ACCOUNT_ID": "g-1"},
        host="https://accounts.gcp.databricks.com",
    ),
    Case("workspace-profile-with-account-id", args={"profile": "dev"}, host=DEV_HOST),
    Case("port-443-and-upper-case-keys", args={"profile": "azure"}, host="https://adb-1.azuredatabricks.net"),
    Case(
        "profile-not-merged-with-DEFAULT",
        env={"DATABRICKS_CONFIG_PROFILE": "dod"},
        host="https://accounts-dod.cloud.databricks.mil",
    ),
    Case("profile-disables-refresh", args={"profile": "norefresh"}, host="https://nr.cloud.databricks.com"),
    Case("env-disables-refresh", env={"DATABRICKS_DISABLE_OAUTH_REFRESH_TOKEN": "true"}, host=DEFAULT_HOST),
]


def _setup(cfg: Path, monkeypatch: pytest.MonkeyPatch, file: str | None, env: dict[str, str]) -> None:
    if file is not None:
        cfg.write_text(file)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def cfg(isolated_env: Path) -> Path:
    return isolated_env / "databrickscfg"


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 12
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_resolution_as_databricks_sdk(
    case: Case, cfg: Path, monkeypatch: pytest.MonkeyPatch, sdk: Callable[..., Any]
) -> None:
    _setup(cfg, monkeypatch, case.file, case.env)
    args = case.args
    ours_args = {k: v for k, v in args.items() if k != "scopes"}

    try:
        theirs = sdk(**args)
    except ValueError as exc:
        assert case.host == "error", f"the SDK refused: {exc}"
        with pytest.raises(ConfigError):
            _merge_sources(**ours_args, env=os.environ)
        with pytest.raises(ConfigError):
            resolve_target(**args)
        return
    assert case.host != "error", "the SDK accepted a case we expect both to refuse"

    profile, values = _merge_sources(**ours_args, env=os.environ)
    assert profile == theirs.profile
    assert (values.get("account_id") or None) == theirs.account_id
    assert (values.get("client_id") or None) == theirs.client_id
    assert parse_scopes(args.get("scopes") or values.get("scopes")) == tuple(theirs.scopes or ())

    assert theirs.host == case.host
    if theirs.host is None:
        with pytest.raises(ConfigError, match="no workspace"):
            resolve_target(**args)
        return

    target = resolve_target(**args)
    assert target.host == theirs.host
    assert target.profile == theirs.profile
    assert target.client_id == (theirs.client_id or DEFAULT_CLIENT_ID)
    assert tuple(s for s in target.scopes if s != OFFLINE_ACCESS) == tuple(theirs.scopes or ())
    no_refresh = resolve_target(**args, refresh_token=False)
    assert no_refresh.scopes == tuple(s for s in theirs.scopes or () if s != OFFLINE_ACCESS)
    if target.scopes:
        assert (OFFLINE_ACCESS in target.scopes) is not bool(theirs.disable_oauth_refresh_token)
    # Deliberate: an account_id on a workspace host (common in workspace profiles) does not make an
    # account login unless --account-id was passed; on account hosts it is the SDK's account_id.
    if theirs.is_account_client or args.get("account_id"):
        assert target.account_id == theirs.account_id
    else:
        assert target.account_id is None


def test_auth_variables_that_skip_the_file_match_the_sdk() -> None:
    """``AUTH_ENV`` is the SDK's ``is_any_auth_configured`` attributes' variables (and aliases)."""
    theirs = set()
    for attr in sdk_config.Config.attributes():
        if attr.auth and attr.env:
            theirs.add(attr.env)
            theirs.update(attr.env_aliases)
    assert set(AUTH_ENV) == theirs


@pytest.mark.parametrize("name", sorted(AUTH_ENV))
def test_each_auth_variable_skips_the_file_like_the_sdk(
    name: str, cfg: Path, monkeypatch: pytest.MonkeyPatch, sdk: Callable[..., Any]
) -> None:
    _setup(cfg, monkeypatch, FILE, {name: "x"})
    try:
        theirs = sdk()
    except ValueError as exc:  # e.g. an attribute whose transform refuses "x"
        pytest.fail(f"SDK refused {name}=x: {exc}")
    assert theirs.host is None  # the SDK skipped the file
    profile, values = _merge_sources(env=os.environ)
    assert profile is None
    assert "host" not in values  # we skipped it too (DEFAULT has a host)
    with pytest.raises(ConfigError, match="no workspace"):
        resolve_target()


@pytest.mark.parametrize(
    "host",
    [
        "https://accounts.cloud.databricks.com",
        "https://accounts.azuredatabricks.net",
        "https://accounts.gcp.databricks.com",
        "https://accounts-dod.cloud.databricks.mil",
        "https://accounts.staging.cloud.databricks.com",
        "https://adb-1.azuredatabricks.net",
        "https://dbc-1.cloud.databricks.com",
        "https://1.gcp.databricks.com",
        "https://myaccounts.cloud.databricks.com",
        "https://accountsx.cloud.databricks.com",
    ],
)
def test_account_host_detection_matches_the_sdk(host: str, sdk: Callable[..., Any]) -> None:
    theirs = sdk(host=host, account_id="a-1")
    assert _is_account_host(canonical_host(host)) is theirs.is_account_client


# -- deliberate differences -----------------------------------------------------------------------


def test_documented_differences(cfg: Path, monkeypatch: pytest.MonkeyPatch, sdk: Callable[..., Any]) -> None:
    """Each difference is asserted on both sides; see resolve_target's docstring for the list."""
    cfg.write_text(FILE)

    # 1. Host case: the SDK keeps it, we lower-case it (one keyring key per workspace).
    assert sdk(host="https://ADB-1.AzureDatabricks.net/").host == "https://ADB-1.AzureDatabricks.net"
    assert resolve_target(host="https://ADB-1.AzureDatabricks.net/").host == "https://adb-1.azuredatabricks.net"

    # 2. Paths and queries (Azure's `?o=<workspace id>` links): the SDK keeps them, we refuse them.
    assert sdk(host="https://adb-1.azuredatabricks.net/?o=123").host == "https://adb-1.azuredatabricks.net?o=123"
    with pytest.raises(ConfigError, match="query"):
        resolve_target(host="https://adb-1.azuredatabricks.net/?o=123")

    # 3. Plain http to a non-loopback host: the SDK accepts it, we refuse to send tokens over it.
    assert sdk(host="http://ws.example.com").host == "http://ws.example.com"
    with pytest.raises(ConfigError, match="plain http"):
        resolve_target(host="http://ws.example.com")

    # 4. `:443` on plain http: the SDK drops it (changing the port to 80), we keep it.
    assert sdk(host="http://localhost:443").host == "http://localhost"
    assert resolve_target(host="http://localhost:443").host == "http://localhost:443"

    # 5. A named profile when the file is missing: the SDK ignores the name, we refuse.
    cfg.unlink()
    assert sdk(profile="dev", host=ARG_HOST).host == ARG_HOST
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_target(profile="dev", host=ARG_HOST)

    # 6. `disable_oauth_refresh_token = false`: the SDK applies bool() to the string (true!); we parse it.
    cfg.write_text("[p]\nhost = https://h.cloud.databricks.com\nscopes = sql\ndisable_oauth_refresh_token = false\n")
    assert sdk(profile="p").disable_oauth_refresh_token is True
    assert resolve_target(profile="p").scopes == (OFFLINE_ACCESS, "sql")

    # 7. Scopes on continuation lines (or tab-separated): the SDK splits on commas and spaces only.
    cfg.write_text("[p]\nhost = https://h.cloud.databricks.com\nscopes = sql\n  files.files\n")
    assert sdk(profile="p").scopes == ["sql\nfiles.files"]
    assert resolve_target(profile="p", refresh_token=False).scopes == ("files.files", "sql")

    # 8. account_id on a workspace host: the SDK keeps it, we drop it unless passed explicitly.
    cfg.write_text(FILE)
    assert sdk(profile="dev").account_id == "1111-dev"
    assert resolve_target(profile="dev").account_id is None
    assert resolve_target(profile="dev", account_id="1111-dev").account_id == "1111-dev"

    # 9. SCOPEDAUTH_SCOPES is ours alone; the SDK has no environment variable for scopes.
    monkeypatch.setenv("SCOPEDAUTH_SCOPES", "dashboards.genie")
    assert sdk(profile="dev").scopes == ["dashboards.genie", "files.files", "sql"]
    assert resolve_target(profile="dev", refresh_token=False).scopes == ("dashboards.genie",)


def test_an_explicit_host_ignores_a_leftover_env_profile_for_another_host(
    cfg: Path, monkeypatch: pytest.MonkeyPatch, sdk: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """10. ``DATABRICKS_CONFIG_PROFILE`` left set to another workspace's profile: the SDK mixes that
    profile's client id and scopes into an explicit host; we ignore the profile, saying so once."""
    import scopedauth.databrickscfg

    monkeypatch.setattr(scopedauth.databrickscfg, "_IGNORED_SAID", set())  # said once per process: start afresh
    cfg.write_text(FILE)
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "dev")
    mixed = sdk(host=ARG_HOST)
    assert (mixed.host, mixed.client_id, mixed.profile) == (ARG_HOST, "dev-app", "dev")
    with caplog.at_level("WARNING", logger="scopedauth"):
        ours = [resolve_target(host=ARG_HOST) for _ in range(3)]
    assert {(t.host, t.client_id, t.scopes, t.profile) for t in ours} == {(ARG_HOST, DEFAULT_CLIENT_ID, (), None)}
    said = [r.getMessage() for r in caplog.records if r.name == "scopedauth"]
    assert said == [
        f"ignoring profile 'dev' from DATABRICKS_CONFIG_PROFILE: its host dev.cloud.databricks.com/ "
        f"is not {ARG_HOST}, the host given explicitly"
    ]
    # the same host, or a profile named explicitly, is still merged as the SDK does
    same = resolve_target(host=DEV_HOST)
    assert (same.client_id, same.profile) == ("dev-app", "dev") == (sdk(host=DEV_HOST).client_id, "dev")
    assert (
        resolve_target(host=ARG_HOST, profile="dev").client_id
        == "dev-app"
        == sdk(host=ARG_HOST, profile="dev").client_id
    )


def test_env_with_an_explicit_host_and_a_leftover_profile_works_and_says_so_once(cfg: Path) -> None:
    """The issue's case: ``scopedauth env --host H`` exited 4 (the other profile's client id)."""
    from datetime import timedelta

    from scopedauth.config import Target
    from scopedauth.grants.session import store_for
    from scopedauth.tokens import Token, utcnow
    from tests.clitools import base_env, run

    cfg.write_text(FILE)
    target = Target(ARG_HOST, scopes=("offline_access", "sql"))
    store_for("file").save(Token(target, access_token="eyJ.arg", expiry=utcnow() + timedelta(hours=1)))
    out = run("env", "--host", ARG_HOST, "--shell", "bash", env=base_env(DATABRICKS_CONFIG_PROFILE="dev"))
    assert out.returncode == 0, out.stderr
    assert "export DATABRICKS_TOKEN='eyJ.arg'" in out.stdout
    assert out.stderr.count("ignoring profile 'dev'") == 1 and out.stderr.startswith("scopedauth: warning: ")
