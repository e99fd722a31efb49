"""Targets: scope parsing, host canonicalisation, the keyring key, login commands, resolution.

Plain tables, no network. Every test runs under conftest's ``isolated_env``: DATABRICKS_* are
cleared and DATABRICKS_CONFIG_FILE points to ``tmp_path/"databrickscfg"``, which the tests write.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scopedauth.config import (
    DEFAULT_CLIENT_ID,
    OFFLINE_ACCESS,
    Target,
    canonical_host,
    parse_scopes,
    resolve_target,
)
from scopedauth.databrickscfg import load_profile
from scopedauth.errors import ConfigError

# -- parse_scopes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, ()),
        ("", ()),
        (" ,, \t ,", ()),
        ("sql", ("sql",)),
        ("sql,files.files", ("files.files", "sql")),
        ("sql files.files", ("files.files", "sql")),
        ("sql, files.files dashboards.genie", ("dashboards.genie", "files.files", "sql")),
        (" sql ,\tfiles.files,,\niam.current-user:read \n", ("files.files", "iam.current-user:read", "sql")),
        ("sql sql,sql , sql", ("sql",)),
        ("offline_access all-apis", ("all-apis", "offline_access")),
        # unknown names pass through untouched: the server decides what exists
        (
            "file.files made.up-scope:x serving.serving-endpoints",
            ("file.files", "made.up-scope:x", "serving.serving-endpoints"),
        ),
        ("SQL sql", ("SQL", "sql")),  # case is kept and significant; sorted by code point
        ("z a M", ("M", "a", "z")),
        ("a|b !#$%&'()*+-./:;<=>?@[]^_`{}~", ("!#$%&'()*+-./:;<=>?@[]^_`{}~", "a|b")),
        (["sql", "files.files sql"], ("files.files", "sql")),
        (("b", "a,c", ""), ("a", "b", "c")),
    ],
)
def test_parse_scopes(given: Any, expected: tuple[str, ...]) -> None:
    assert parse_scopes(given) == expected


def test_parse_scopes_takes_a_one_shot_iterator() -> None:
    # built here, not in the parametrize list: an iterator there is spent after one run
    assert parse_scopes(iter(["x", "y"])) == ("x", "y")


@pytest.mark.parametrize(
    "given",
    ['sq"l', "back\\slash", "ctl\x01char", "del\x7f", "caf\u00e9", "x\u200by", ["sql", 'b"ad'], ("ok", "\x00")],
)
def test_parse_scopes_rejects_what_cannot_be_a_scope(given: Any) -> None:
    with pytest.raises(ConfigError, match="not a valid OAuth scope"):
        parse_scopes(given)


# -- canonical_host -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net"),
        ("https://adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net"),
        ("https://adb-1.azuredatabricks.net/", "https://adb-1.azuredatabricks.net"),
        ("https://adb-1.azuredatabricks.net///", "https://adb-1.azuredatabricks.net"),
        ("  https://dbc-1.cloud.databricks.com/ \n", "https://dbc-1.cloud.databricks.com"),
        ("HTTPS://DBC-1.Cloud.Databricks.COM", "https://dbc-1.cloud.databricks.com"),
        ("https://dbc-1.cloud.databricks.com:443", "https://dbc-1.cloud.databricks.com"),
        ("https://dbc-1.cloud.databricks.com:443/", "https://dbc-1.cloud.databricks.com"),
        ("dbc-1.cloud.databricks.com:443", "https://dbc-1.cloud.databricks.com"),
        ("https://dbc-1.cloud.databricks.com:8443", "https://dbc-1.cloud.databricks.com:8443"),
        ("https://1.gcp.databricks.com", "https://1.gcp.databricks.com"),
        ("https://internal_host.corp", "https://internal_host.corp"),
        ("https://10.1.2.3", "https://10.1.2.3"),
        ("https://[2001:DB8::1]:8443", "https://[2001:db8::1]:8443"),
        # plain http only for loopback
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://LOCALHOST:8080/", "http://localhost:8080"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("http://127.0.0.1", "http://127.0.0.1"),
        ("http://127.8.9.10:1", "http://127.8.9.10:1"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("http://localhost:443", "http://localhost:443"),  # :443 is only the default for https
    ],
)
def test_canonical_host(given: str, expected: str) -> None:
    assert canonical_host(given) == expected
    assert canonical_host(expected) == expected  # idempotent


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("https://dbc-1.cloud.databricks.com/path", "path"),
        ("https://adb-1.azuredatabricks.net/?o=123", "query"),
        ("https://adb-1.azuredatabricks.net?o=123", "query"),
        ("https://dbc-1.cloud.databricks.com#frag", "fragment"),
        ("https://user:secret@dbc-1.cloud.databricks.com", "user info"),
        ("https://user@dbc-1.cloud.databricks.com", "user info"),
        ("https://:secret@dbc-1.cloud.databricks.com", "user info"),
        ("http://dbc-1.cloud.databricks.com", "plain http"),
        ("http://10.0.0.1:8080", "plain http"),
        ("http://192.168.1.1", "plain http"),
        ("http://localhost.example.com", "plain http"),
        ("http://127.0.0.1.nip.io", "plain http"),
        ("http://[::2]:80", "plain http"),
        ("ftp://dbc-1.cloud.databricks.com", "only https"),
        ("file:///etc/passwd", "only https"),
        ("https://", "no host"),
        ("https://:443", "no host"),
        ("https://dbc-1.cloud.databricks.com:99999", "bad port"),
        ("https://dbc-1.cloud.databricks.com:abc", "bad port"),
        ("https://exa mple.com", "white space"),
        ("https://exa\nmple.com", "white space"),
        ("https://exa\tmple.com", "white space"),
        ("https://exa\x00mple.com", "control"),
        ("https://a|b.cloud.databricks.com", r"no URL may hold \(U\+007C\)"),
        ("https://b\u00fccher.example", "punycode"),
        ("https://x%2ey.com", "no valid host name"),
    ],
)
def test_canonical_host_rejects(given: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        canonical_host(given)
    assert "secret" not in str(info.value)  # user info is refused without being shown


# -- Target.key and from_key ----------------------------------------------------------------------

KEY_TABLE = [
    (Target("https://h.cloud.databricks.com"), "https://h.cloud.databricks.com|databricks-cli|"),
    (
        Target("https://h.cloud.databricks.com", scopes=("sql", OFFLINE_ACCESS)),
        "https://h.cloud.databricks.com|databricks-cli|offline_access sql",
    ),
    (
        Target("https://h.cloud.databricks.com", scopes=("sql", "files.files", "sql", "dashboards.genie")),
        "https://h.cloud.databricks.com|databricks-cli|dashboards.genie files.files sql",
    ),
    (
        Target("https://adb-1.azuredatabricks.net", client_id="my-app", scopes=("all-apis",)),
        "https://adb-1.azuredatabricks.net|my-app|all-apis",
    ),
    (
        Target("https://accounts.cloud.databricks.com", scopes=("all-apis",), account_id="0d9c-11aa"),
        "https://accounts.cloud.databricks.com/accounts/0d9c-11aa|databricks-cli|all-apis",
    ),
    (
        Target("http://127.0.0.1:8999", client_id="c", scopes=("iam.current-user:read",), account_id="a1"),
        "http://127.0.0.1:8999/accounts/a1|c|iam.current-user:read",
    ),
    (Target("https://h.com", scopes=("a:b/c!", "c")), "https://h.com|databricks-cli|a:b/c! c"),
]


@pytest.mark.parametrize(("target", "key"), KEY_TABLE)
def test_key_format(target: Target, key: str) -> None:
    assert target.key == key


@pytest.mark.parametrize(("target", "key"), KEY_TABLE)
def test_from_key_round_trip(target: Target, key: str) -> None:
    back = Target.from_key(key)
    assert back == target
    assert back.key == key
    assert (back.host, back.client_id, back.scopes, back.account_id) == (
        target.host,
        target.client_id,
        target.scopes,
        target.account_id,
    )
    assert back.profile is None


def test_scopes_are_kept_sorted_and_unique_whatever_the_order_given() -> None:
    one = Target("https://h.com", scopes=("sql", "all-apis", "sql", ""))
    two = Target("https://h.com", scopes=("all-apis", "sql"))
    assert one.scopes == ("all-apis", "sql")
    assert one == two
    assert one.key == two.key


def test_profile_is_not_part_of_identity() -> None:
    assert Target("https://h.com", profile="a") == Target("https://h.com", profile="b")
    assert Target("https://h.com", profile="a").key == Target("https://h.com").key


@pytest.mark.parametrize("key", ["", "nope", "https://h.com|databricks-cli", "https://h.com"])
def test_from_key_rejects_foreign_keys(key: str) -> None:
    with pytest.raises(ConfigError, match="not a scopedauth key"):
        Target.from_key(key)


@pytest.mark.parametrize(
    ("target", "refreshable", "is_account"),
    [
        (Target("https://h.com", scopes=("sql",)), False, False),
        (Target("https://h.com", scopes=("sql", OFFLINE_ACCESS)), True, False),
        (Target("https://accounts.cloud.databricks.com", account_id="a"), False, True),
    ],
)
def test_target_flags(target: Target, refreshable: bool, is_account: bool) -> None:
    assert target.refreshable is refreshable
    assert target.is_account is is_account


# -- login_command --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "command"),
    [
        (
            Target("https://h.cloud.databricks.com", scopes=("sql", OFFLINE_ACCESS)),
            "scopedauth login --host https://h.cloud.databricks.com --scopes sql",
        ),
        (
            Target("https://h.cloud.databricks.com", scopes=("sql", "files.files", OFFLINE_ACCESS)),
            "scopedauth login --host https://h.cloud.databricks.com --scopes 'files.files sql'",
        ),
        (
            Target("https://h.cloud.databricks.com", scopes=("sql",)),
            "scopedauth login --host https://h.cloud.databricks.com --scopes sql --no-refresh-token",
        ),
        (
            Target("https://h.cloud.databricks.com", scopes=(OFFLINE_ACCESS,)),
            "scopedauth login --host https://h.cloud.databricks.com --scopes offline_access",
        ),
        (
            Target("https://h.cloud.databricks.com"),
            "scopedauth login --host https://h.cloud.databricks.com --no-refresh-token",
        ),
        (
            Target(
                "https://accounts.cloud.databricks.com",
                client_id="my-app",
                scopes=("all-apis", OFFLINE_ACCESS),
                account_id="0d9c-11aa",
            ),
            "scopedauth login --host https://accounts.cloud.databricks.com --account-id 0d9c-11aa"
            " --client-id my-app --scopes all-apis",
        ),
        (
            Target("https://h.com", client_id="app;rm", scopes=("$HOME", "a;b", "it's", "`id`", OFFLINE_ACCESS)),
            "scopedauth login --host https://h.com --client-id 'app;rm' --scopes '$HOME `id` a;b it'\"'\"'s'",
        ),
    ],
)
def test_login_command_is_exact_shell_safe_and_recreates_the_target(target: Target, command: str) -> None:
    assert target.login_command() == command
    words = shlex.split(command)
    assert words[:2] == ["scopedauth", "login"]
    options: dict[str, Any] = {}
    flags = {"--host": "host", "--account-id": "account_id", "--client-id": "client_id", "--scopes": "scopes"}
    rest = words[2:]
    while rest:
        word = rest.pop(0)
        if word == "--no-refresh-token":
            options["refresh_token"] = False
        else:
            options[flags[word]] = rest.pop(0)
    # run the command's options through the real resolution, with no config file to interfere
    again = resolve_target(**options, env={"DATABRICKS_CONFIG_FILE": "/nonexistent/databrickscfg"})
    assert again == target
    assert again.key == target.key


# -- load_profile ---------------------------------------------------------------------------------


@pytest.fixture
def cfg(isolated_env: Path) -> Path:
    return isolated_env / "databrickscfg"


PROFILES = """\
[DEFAULT]
host = https://default.cloud.databricks.com
client_id = default-app

[dev]
HOST = https://dev.cloud.databricks.com
Scopes = sql, files.files

[empty]
"""


@pytest.mark.parametrize(
    ("text", "profile", "expected"),
    [
        (PROFILES, None, (None, {"host": "https://default.cloud.databricks.com", "client_id": "default-app"})),
        (
            PROFILES,
            "DEFAULT",
            ("DEFAULT", {"host": "https://default.cloud.databricks.com", "client_id": "default-app"}),
        ),
        # the section's own values only (not merged with DEFAULT); option names are case-insensitive
        (PROFILES, "dev", ("dev", {"host": "https://dev.cloud.databricks.com", "scopes": "sql, files.files"})),
        (PROFILES, "empty", ("empty", {})),
        (
            "[__settings__]\ndefault_profile = dev\n" + PROFILES,
            None,
            ("dev", {"host": "https://dev.cloud.databricks.com", "scopes": "sql, files.files"}),
        ),
        (
            "[__settings__]\ndefault_profile =   \n" + PROFILES,
            None,
            (None, {"host": "https://default.cloud.databricks.com", "client_id": "default-app"}),
        ),
        ("[__settings__]\ndefault_profile = dev\n" + PROFILES, "empty", ("empty", {})),
        ("[dev]\nhost = https://dev.cloud.databricks.com\n", None, (None, {})),
        ("[DEFAULT]\n[dev]\nhost = x\n", None, (None, {})),
        ("", None, (None, {})),
        (
            "[p]\nhost = https://h.com\ntoken = 100% = ok ;not a comment\n",
            "p",
            ("p", {"host": "https://h.com", "token": "100% = ok ;not a comment"}),
        ),
    ],
)
def test_load_profile(cfg: Path, text: str, profile: str | None, expected: tuple[str | None, dict[str, str]]) -> None:
    cfg.write_text(text)
    assert load_profile(profile, os.environ) == expected


@pytest.mark.parametrize(
    ("text", "profile", "message"),
    [
        (PROFILES, "missing", "no missing profile"),
        (PROFILES, "__settings__", "reserved"),
        ("[__settings__]\ndefault_profile = missing\n" + PROFILES, None, "no missing profile"),
        ("[__settings__]\ndefault_profile = __settings__\n", None, "reserved"),
        ("[dev]\nhost = a\n", "DEFAULT", "no DEFAULT profile"),
        ("host = https://h.com\n", None, "cannot parse"),
        ("[dev]\nhost = a\nhost = b\n", "dev", "cannot parse"),
        ("[dev]\nhost = a\n[dev]\n", "dev", "cannot parse"),
    ],
)
def test_load_profile_errors(cfg: Path, text: str, profile: str | None, message: str) -> None:
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_profile(profile, os.environ)


def test_load_profile_not_utf8_is_a_config_error(cfg: Path) -> None:
    cfg.write_bytes(b"[dev]\nhost = https://h.com\nname = \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_profile("dev", os.environ)


def test_load_profile_missing_file(cfg: Path) -> None:
    assert not cfg.exists()
    assert load_profile(None, os.environ) == (None, {})
    with pytest.raises(ConfigError, match="does not exist"):
        load_profile("dev", os.environ)


def test_load_profile_reads_the_file_named_in_the_given_env(tmp_path: Path, cfg: Path) -> None:
    cfg.write_text("[DEFAULT]\nhost = https://wrong.com\n")
    other = tmp_path / "other.cfg"
    other.write_text("[DEFAULT]\nhost = https://right.com\n")
    assert load_profile(None, {"DATABRICKS_CONFIG_FILE": str(other)}) == (None, {"host": "https://right.com"})


def test_load_profile_default_path_is_home_databrickscfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".databrickscfg").write_text("[DEFAULT]\nhost = https://home.com\n")
    assert load_profile(None, {}) == (None, {"host": "https://home.com"})


# -- resolve_target -------------------------------------------------------------------------------

FILE = """\
[DEFAULT]
host = https://default.cloud.databricks.com
scopes = sql

[dev]
host = dev.cloud.databricks.com/
client_id = dev-app
scopes = files.files, sql
account_id = 1111-dev

[acct]
host = https://accounts.cloud.databricks.com
account_id = acct-123
scopes = all-apis

[dod]
host = https://accounts-dod.cloud.databricks.mil
account_id = dod-1

[acct-noid]
host = https://accounts.azuredatabricks.net

[norefresh]
host = https://nr.cloud.databricks.com
scopes = sql offline_access
disable_oauth_refresh_token = true

[refresh-false]
host = https://rf.cloud.databricks.com
scopes = sql
disable_oauth_refresh_token = false

[badacct]
host = https://ws.cloud.databricks.com
account_id = not an id!

[plainhttp]
host = http://ws.cloud.databricks.com

[weird]
host = https://ws.cloud.databricks.com
scopes = made.up:scope   another-one
client_id = bad|client
"""

SETTINGS = "[__settings__]\ndefault_profile = dev\n\n" + FILE
NO_DEFAULT = "[dev]\nhost = https://dev.cloud.databricks.com\n"


@dataclass
class Case:
    id: str
    file: str | None = FILE
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    host: str | None = None
    scopes: str = ""
    client_id: str = DEFAULT_CLIENT_ID
    account_id: str | None = None
    profile: str | None = None
    error: str | None = None


DEFAULT_HOST = "https://default.cloud.databricks.com"
DEV_HOST = "https://dev.cloud.databricks.com"
ACCT_HOST = "https://accounts.cloud.databricks.com"

CASES = [
    # the file: DEFAULT fallback, named profiles, [__settings__]
    Case("default-fallback", host=DEFAULT_HOST, scopes="offline_access sql"),
    Case(
        "env-profile",
        env={"DATABRICKS_CONFIG_PROFILE": "dev"},
        host=DEV_HOST,
        client_id="dev-app",
        scopes="files.files offline_access sql",
        profile="dev",
    ),
    Case(
        "arg-profile-beats-env-profile",
        env={"DATABRICKS_CONFIG_PROFILE": "dev"},
        args={"profile": "acct"},
        host=ACCT_HOST,
        account_id="acct-123",
        scopes="all-apis offline_access",
        profile="acct",
    ),
    Case(
        "settings-default-profile",
        file=SETTINGS,
        host=DEV_HOST,
        client_id="dev-app",
        scopes="files.files offline_access sql",
        profile="dev",
    ),
    Case(
        "env-profile-beats-settings",
        file=SETTINGS,
        env={"DATABRICKS_CONFIG_PROFILE": "acct"},
        host=ACCT_HOST,
        account_id="acct-123",
        scopes="all-apis offline_access",
        profile="acct",
    ),
    Case(
        "explicit-DEFAULT",
        file=SETTINGS,
        args={"profile": "DEFAULT"},
        host=DEFAULT_HOST,
        scopes="offline_access sql",
        profile="DEFAULT",
    ),
    Case("no-default-section", file=NO_DEFAULT, error="no workspace"),
    Case("no-file", file=None, error="no workspace"),
    Case("no-file-named-profile", file=None, args={"profile": "dev"}, error="does not exist"),
    Case("named-profile-missing", args={"profile": "prod"}, error="no prod profile"),
    Case("env-profile-missing", env={"DATABRICKS_CONFIG_PROFILE": "prod"}, error="no prod profile"),
    Case("settings-profile-missing", file="[__settings__]\ndefault_profile = prod\n" + FILE, error="no prod profile"),
    Case("settings-section-as-profile", args={"profile": "__settings__"}, error="reserved"),
    # arguments > environment > profile
    Case(
        "env-host-skips-file",
        env={"DATABRICKS_HOST": "https://env.cloud.databricks.com"},
        host="https://env.cloud.databricks.com",
    ),
    Case("arg-host-skips-file", args={"host": "arg.cloud.databricks.com"}, host="https://arg.cloud.databricks.com"),
    Case(
        "arg-host-beats-env-host",
        env={"DATABRICKS_HOST": "https://env.cloud.databricks.com"},
        args={"host": "https://arg.cloud.databricks.com"},
        host="https://arg.cloud.databricks.com",
    ),
    Case(
        "env-host-with-profile",
        env={"DATABRICKS_HOST": "https://env.cloud.databricks.com", "DATABRICKS_CONFIG_PROFILE": "dev"},
        host="https://env.cloud.databricks.com",
        client_id="dev-app",
        scopes="files.files offline_access sql",
        profile="dev",
    ),
    Case(
        "arg-host-with-arg-profile",
        args={"host": "https://arg.cloud.databricks.com", "profile": "dev"},
        host="https://arg.cloud.databricks.com",
        client_id="dev-app",
        scopes="files.files offline_access sql",
        profile="dev",
    ),
    Case("empty-env-host-ignored", env={"DATABRICKS_HOST": ""}, host=DEFAULT_HOST, scopes="offline_access sql"),
    Case(
        "env-client-with-profile",
        env={"DATABRICKS_CLIENT_ID": "env-app", "DATABRICKS_CONFIG_PROFILE": "dev"},
        host=DEV_HOST,
        client_id="env-app",
        scopes="files.files offline_access sql",
        profile="dev",
    ),
    Case(
        "arg-client-beats-env-client",
        env={"DATABRICKS_CLIENT_ID": "env-app"},
        args={"client_id": "arg-app", "profile": "dev"},
        host=DEV_HOST,
        client_id="arg-app",
        scopes="files.files offline_access sql",
        profile="dev",
    ),
    # like databricks-sdk: any auth setting (env or argument) without a profile skips the file
    Case("env-client-skips-file", env={"DATABRICKS_CLIENT_ID": "env-app"}, error="no workspace"),
    Case("arg-client-skips-file", args={"client_id": "arg-app"}, error="no workspace"),
    Case("env-token-skips-file", env={"DATABRICKS_TOKEN": "dapi-x"}, error="no workspace"),
    Case("env-oidc-alias-skips-file", env={"DATABRICKS_OIDC_TOKEN_FILE": "/t"}, error="no workspace"),
    Case(
        "env-client-and-host",
        env={"DATABRICKS_CLIENT_ID": "env-app", "DATABRICKS_HOST": "h.gcp.databricks.com"},
        host="https://h.gcp.databricks.com",
        client_id="env-app",
    ),
    # scopes: argument > SCOPEDAUTH_SCOPES > profile
    Case(
        "arg-scopes",
        env={"SCOPEDAUTH_SCOPES": "all-apis", "DATABRICKS_CONFIG_PROFILE": "dev"},
        args={"scopes": "dashboards.genie"},
        host=DEV_HOST,
        client_id="dev-app",
        scopes="dashboards.genie offline_access",
        profile="dev",
    ),
    Case(
        "env-scopes",
        env={"SCOPEDAUTH_SCOPES": "all-apis,sql", "DATABRICKS_CONFIG_PROFILE": "dev"},
        host=DEV_HOST,
        client_id="dev-app",
        scopes="all-apis offline_access sql",
        profile="dev",
    ),
    Case(
        "arg-scopes-iterable",
        args={"scopes": ["sql", "files.files"], "host": "h.com"},
        host="https://h.com",
        scopes="files.files offline_access sql",
    ),
    Case("empty-arg-scopes-fall-through", args={"scopes": ""}, host=DEFAULT_HOST, scopes="offline_access sql"),
    Case("no-scopes-anywhere", args={"host": "h.com"}, host="https://h.com", scopes=""),
    Case(
        "unknown-scopes-pass",
        args={"host": "h.com", "scopes": "made.up:scope another-one"},
        host="https://h.com",
        scopes="another-one made.up:scope offline_access",
    ),
    Case("invalid-scope", args={"host": "h.com", "scopes": 'bad"scope'}, error="not a valid OAuth scope"),
    # offline_access
    Case("no-refresh-arg", args={"refresh_token": False}, host=DEFAULT_HOST, scopes="sql"),
    Case(
        "no-refresh-strips-explicit",
        args={"host": "h.com", "scopes": "sql offline_access", "refresh_token": False},
        host="https://h.com",
        scopes="sql",
    ),
    Case(
        "refresh-not-doubled",
        args={"host": "h.com", "scopes": "offline_access sql"},
        host="https://h.com",
        scopes="offline_access sql",
    ),
    Case(
        "profile-disables-refresh",
        args={"profile": "norefresh"},
        host="https://nr.cloud.databricks.com",
        scopes="sql",
        profile="norefresh",
    ),
    Case(
        "arg-beats-profile-disable",
        args={"profile": "norefresh", "refresh_token": True},
        host="https://nr.cloud.databricks.com",
        scopes="offline_access sql",
        profile="norefresh",
    ),
    Case(
        "profile-disable-false",
        args={"profile": "refresh-false"},
        host="https://rf.cloud.databricks.com",
        scopes="offline_access sql",
        profile="refresh-false",
    ),
    Case(
        "env-disables-refresh", env={"DATABRICKS_DISABLE_OAUTH_REFRESH_TOKEN": "true"}, host=DEFAULT_HOST, scopes="sql"
    ),
    Case("env-disable-TRUE", env={"DATABRICKS_DISABLE_OAUTH_REFRESH_TOKEN": "TRUE"}, host=DEFAULT_HOST, scopes="sql"),
    # accounts
    Case(
        "account-profile",
        args={"profile": "acct"},
        host=ACCT_HOST,
        account_id="acct-123",
        scopes="all-apis offline_access",
        profile="acct",
    ),
    Case(
        "env-account-beats-profile",
        env={"DATABRICKS_ACCOUNT_ID": "env-acct"},
        args={"profile": "acct"},
        host=ACCT_HOST,
        account_id="env-acct",
        scopes="all-apis offline_access",
        profile="acct",
    ),
    Case(
        "arg-account-beats-env",
        env={"DATABRICKS_ACCOUNT_ID": "env-acct"},
        args={"profile": "acct", "account_id": "arg-acct"},
        host=ACCT_HOST,
        account_id="arg-acct",
        scopes="all-apis offline_access",
        profile="acct",
    ),
    Case(
        "account-dod-host",
        args={"profile": "dod"},
        host="https://accounts-dod.cloud.databricks.mil",
        account_id="dod-1",
        profile="dod",
    ),
    Case(
        "account-host-env",
        env={"DATABRICKS_HOST": "accounts.gcp.databricks.com", "DATABRICKS_ACCOUNT_ID": "g1"},
        host="https://accounts.gcp.databricks.com",
        account_id="g1",
    ),
    Case("account-host-needs-id", args={"profile": "acct-noid"}, error="account console"),
    Case("account-host-arg-needs-id", args={"host": "https://accounts.cloud.databricks.com"}, error="account console"),
    Case(
        "workspace-profile-account-id-dropped",
        args={"profile": "dev"},
        host=DEV_HOST,
        client_id="dev-app",
        scopes="files.files offline_access sql",
        profile="dev",
    ),
    Case(
        "workspace-env-account-id-dropped",
        env={"DATABRICKS_HOST": "h.com", "DATABRICKS_ACCOUNT_ID": "x1"},
        host="https://h.com",
    ),
    Case(
        "workspace-explicit-account-id-kept",
        args={"profile": "dev", "account_id": "unified-1"},
        host=DEV_HOST,
        client_id="dev-app",
        scopes="files.files offline_access sql",
        account_id="unified-1",
        profile="dev",
    ),
    Case(
        "bad-account-id-dropped-on-workspace",
        args={"profile": "badacct"},
        host="https://ws.cloud.databricks.com",
        profile="badacct",
    ),
    Case("bad-account-id-explicit", args={"host": ACCT_HOST, "account_id": "not an id!"}, error="not an account id"),
    Case("account-id-trailing-newline", args={"host": ACCT_HOST, "account_id": "abc\n"}, error="not an account id"),
    # bad values from the file
    Case("profile-plain-http", args={"profile": "plainhttp"}, error="plain http"),
    Case("profile-bad-client-id", args={"profile": "weird"}, error="not an OAuth client id"),
    Case("arg-client-id-space", args={"host": "h.com", "client_id": "my app"}, error="not an OAuth client id"),
    Case("file-not-ini", file="host = https://h.com\n", error="cannot parse"),
]


def _write(cfg: Path, text: str | None) -> None:
    if text is not None:
        cfg.write_text(text)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_resolve_target(case: Case, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(cfg, case.file)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    if case.error:
        with pytest.raises(ConfigError, match=case.error):
            resolve_target(**case.args)
        return
    target = resolve_target(**case.args)
    assert (target.host, target.account_id, target.client_id, " ".join(target.scopes), target.profile) == (
        case.host,
        case.account_id,
        case.client_id,
        case.scopes,
        case.profile,
    )
    assert target.is_account is (case.account_id is not None)
    assert target.refreshable is (OFFLINE_ACCESS in case.scopes.split())


@pytest.mark.parametrize("case", [c for c in CASES if c.error is None][:12], ids=lambda c: c.id)
def test_resolve_target_reads_the_given_env_not_os_environ(
    case: Case, cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same table through an explicit ``env`` mapping while os.environ says something else."""
    _write(cfg, case.file)
    monkeypatch.setenv("DATABRICKS_HOST", "https://decoy.cloud.databricks.com")
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "decoy")
    monkeypatch.setenv("SCOPEDAUTH_SCOPES", "decoy")
    env = {"DATABRICKS_CONFIG_FILE": str(cfg), **case.env}
    target = resolve_target(**case.args, env=env)
    assert (target.host, target.client_id, " ".join(target.scopes), target.profile) == (
        case.host,
        case.client_id,
        case.scopes,
        case.profile,
    )


# -- login_command for a target from a profile ----------------------------------------------------

NAMED = """\
[p2]
host = https://h.cloud.databricks.com
scopes = sql

[bare]
host = https://h.cloud.databricks.com

[sp]
host = https://h.cloud.databricks.com
client_id = sp-client
"""


@pytest.mark.parametrize(
    ("options", "command"),
    [
        ({"profile": "p2"}, "scopedauth login --profile p2"),
        ({"profile": "p2", "scopes": "sql files.files"}, "scopedauth login --profile p2 --scopes 'files.files sql'"),
        ({"profile": "p2", "refresh_token": False}, "scopedauth login --profile p2 --scopes sql --no-refresh-token"),
        ({"profile": "bare", "scopes": "all-apis"}, "scopedauth login --profile bare"),  # what login asks by default
        ({"profile": "bare", "scopes": "sql"}, "scopedauth login --profile bare --scopes sql"),
        ({"profile": "sp", "scopes": "all-apis"}, "scopedauth login --profile sp"),
        ({"profile": "sp", "client_id": "other"}, "scopedauth login --profile sp --client-id other"),
        ({"profile": "bare", "client_id": "databricks-cli", "scopes": "all-apis"}, "scopedauth login --profile bare"),
    ],
)
def test_login_command_of_a_profile_target_names_the_profile(cfg: Path, options: dict[str, Any], command: str) -> None:
    cfg.write_text(NAMED)
    target = resolve_target(**options)
    if not target.scopes:
        target = resolve_target(**options, scopes="all-apis")
    assert target.profile == options["profile"]
    assert target.login_command() == command
    # the printed command resolves to the very same grant
    words = shlex.split(command)[2:]
    flags = {"--profile": "profile", "--client-id": "client_id", "--scopes": "scopes"}
    again: dict[str, Any] = {}
    while words:
        word = words.pop(0)
        if word == "--no-refresh-token":
            again["refresh_token"] = False
        else:
            again[flags[word]] = words.pop(0)
    resolved = resolve_target(**again)
    if not resolved.scopes:
        resolved = resolve_target(**again, scopes="all-apis")
    assert resolved.key == target.key


def test_login_command_falls_back_to_the_host_when_the_profile_no_longer_names_it(cfg: Path) -> None:
    cfg.write_text(NAMED)
    moved = Target("https://moved.cloud.databricks.com", scopes=("sql", OFFLINE_ACCESS), profile="p2")
    assert moved.login_command() == "scopedauth login --host https://moved.cloud.databricks.com --scopes sql"
    gone = Target("https://h.cloud.databricks.com", scopes=("sql", OFFLINE_ACCESS), profile="gone")
    assert gone.login_command() == "scopedauth login --host https://h.cloud.databricks.com --scopes sql"
    sp = resolve_target(profile="sp", scopes="sql")
    assert shlex.join(sp.command_words("login", client_id=True)) == (
        "scopedauth login --profile sp --client-id sp-client --scopes sql"
    )


@pytest.mark.parametrize(
    ("word", "disabled"),
    [
        *((w, True) for w in ("true", "1", "yes", "on", " YES ", "On", "TRUE")),
        *((w, False) for w in ("false", "0", "no", "off", "", "enabled", "y")),
    ],
)
def test_disable_oauth_refresh_token_words(tmp_path: Path, word: str, disabled: bool) -> None:
    """The boolean words a profile may use; anything else leaves the refresh token on."""
    cfg = tmp_path / "cfg"
    cfg.write_text(f"[p]\nhost = https://h.cloud.databricks.com\nscopes = sql\ndisable_oauth_refresh_token = {word}\n")
    target = resolve_target(profile="p", env={"DATABRICKS_CONFIG_FILE": str(cfg)})
    assert (OFFLINE_ACCESS not in target.scopes) is disabled
    via_env = resolve_target(
        host="https://h.cloud.databricks.com", scopes="sql", env={"DATABRICKS_DISABLE_OAUTH_REFRESH_TOKEN": word}
    )
    assert (OFFLINE_ACCESS not in via_env.scopes) is disabled
