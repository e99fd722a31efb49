"""Targets: which workspace (or account), which OAuth client, which scopes.

A :class:`Target` is the identity of a stored grant; its :attr:`Target.key` is the keyring
username. Resolution follows databricks-sdk's unified-auth rules (explicit arguments, then
``DATABRICKS_*`` variables, then the profile in ``~/.databrickscfg``) but parses the file with
:mod:`configparser` because importing databricks-sdk costs most of a second; a differential test
runs the real SDK on the same inputs to keep the two in step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal, TypedDict, get_args

from .databrickscfg import AUTH_ENV, config_path, is_other_host, load_profile
from .errors import ConfigError
from .records import Record
from .urls import parse_host

__all__ = [
    "DEFAULT_CLIENT_ID",
    "OFFLINE_ACCESS",
    "RESOLVE_ENV",
    "STORAGE_KINDS",
    "StorageKind",
    "Target",
    "TargetOptions",
    "canonical_host",
    "parse_scopes",
    "resolve_target",
]

DEFAULT_CLIENT_ID = "databricks-cli"
OFFLINE_ACCESS = "offline_access"

#: where tokens live: the OS keyring (default), a 0600 plaintext file, or this process's memory
StorageKind = Literal["keyring", "file", "memory"]
STORAGE_KINDS: tuple[StorageKind, ...] = get_args(StorageKind)


class TargetOptions(TypedDict, total=False):
    """The keywords that choose a target; every public call that takes a target accepts them.

    host: workspace or account-console URL (else the profile's, else ``DATABRICKS_HOST``).
    profile: a profile in ``~/.databrickscfg`` (else ``DATABRICKS_CONFIG_PROFILE``).
    account_id: the account, for an account-console host (else ``DATABRICKS_ACCOUNT_ID``).
    client_id: the OAuth client (default ``databricks-cli``, or ``DATABRICKS_CLIENT_ID``).
    scopes: ``"sql files.files"``, ``"sql,files.files"`` or a list; none means the one grant
        stored for the host (``all-apis`` at login).
    refresh_token: False to do without ``offline_access`` (no refresh token).
    app: a Databricks App's name or URL: its scopes are read from the workspace's Apps API
        (instead of ``scopes``; see :mod:`scopedauth.grants.apps`).
    """

    host: str | None
    profile: str | None
    account_id: str | None
    client_id: str | None
    scopes: str | Iterable[str] | None
    refresh_token: bool | None
    app: str | None


_ACCOUNT_HOSTS = (
    "accounts.cloud.databricks.com",
    "accounts.azuredatabricks.net",
    "accounts.gcp.databricks.com",
)
# databricks-sdk's `is_account_client`: `https://accounts.` or `https://accounts-dod.` (GovCloud DoD)
_ACCOUNT_PREFIXES = ("accounts.", "accounts-dod.")
# a client_id is one token of the keyring key: printable, no white space, no "|" (the key's separator)
_CLIENT_ID = re.compile(r"^[\x21-\x7B\x7D\x7E]+$")
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # RFC 6749 §3.3 scope-token
# a Target's scope is a word of its store key: scope-token characters minus the key's separators
# ("|" between parts, "#" before a chunk's or kept secret's suffix, "," a list's), so keys never collide
_KEY_SCOPE = re.compile(r"^[\x21\x24-\x2B\x2D-\x5B\x5D-\x7B\x7D\x7E]+$")
#: every environment variable :func:`resolve_target` reads (HOME and USERPROFILE locate
#: ``~/.databrickscfg``); an answer remembered for the same values of these is still right
RESOLVE_ENV: tuple[str, ...] = (
    "DATABRICKS_HOST",
    "DATABRICKS_ACCOUNT_ID",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_DISABLE_OAUTH_REFRESH_TOKEN",
    "DATABRICKS_CONFIG_PROFILE",
    "DATABRICKS_CONFIG_FILE",
    "SCOPEDAUTH_SCOPES",
    "HOME",
    "USERPROFILE",
    *AUTH_ENV,
)


def canonical_host(host: str, field: str = "host") -> str:
    """``scheme://host[:port]`` in lower case, no trailing slash, no default port.

    Mirrors databricks-sdk's host fix-up (``https://`` added when missing, ``:443`` dropped);
    :func:`scopedauth.urls.parse_host` enforces the rest (HTTPS except for loopback, because a
    token endpoint over plain http hands the refresh token to anyone on the path). ``field``
    names where the value came from in the error (``--host``, ``DATABRICKS_HOST``, a profile).
    """
    return parse_host(host, field).origin


def parse_scopes(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Split on commas and white space, drop empties and duplicates, sort.

    Unknown scope names pass through untouched: the server decides what exists. Only strings
    that cannot be a scope at all (RFC 6749 §3.3: quotes, backslashes, control characters) fail.
    """
    if value is None:
        return ()
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else [s for v in value for s in re.split(r"[,\s]+", v)]
    scopes = sorted({s for s in items if s})
    for scope in scopes:
        if not _SCOPE.fullmatch(scope):
            raise ConfigError(f"not a valid OAuth scope: {scope!r}")
    return tuple(scopes)


class Target(Record):
    """One grant's identity: host (+ account), OAuth client and the exact scope set asked for.

    ``profile`` records where the target came from (for exact hints); it is not part of the
    identity, so two targets that differ only in it are equal.
    """

    __slots__ = ("account_id", "client_id", "host", "profile", "scopes")
    _compare = ("host", "client_id", "scopes", "account_id")
    host: str
    client_id: str
    scopes: tuple[str, ...]
    account_id: str | None
    profile: str | None

    def __init__(
        self,
        host: str,
        client_id: str = DEFAULT_CLIENT_ID,
        scopes: tuple[str, ...] = (),
        account_id: str | None = None,
        profile: str | None = None,
    ) -> None:
        # one grant, one key: the scope set is kept sorted and free of duplicates however it was given
        scopes = tuple(sorted({s for s in scopes if s}))
        for scope in scopes:
            if not _KEY_SCOPE.fullmatch(scope):
                raise ConfigError(f'not a usable OAuth scope: {scope!r} (it may not hold white space, \\ " # | or ,)')
        self._init(host=host, client_id=client_id, scopes=scopes, account_id=account_id, profile=profile)

    @property
    def is_account(self) -> bool:
        return self.account_id is not None

    @property
    def key(self) -> str:
        """The keyring username: ``<host>[/accounts/<id>]|<client_id>|<sorted scopes>``."""
        where = self.host + (f"/accounts/{self.account_id}" if self.account_id else "")
        return f"{where}|{self.client_id}|{' '.join(self.scopes)}"

    @property
    def refreshable(self) -> bool:
        return OFFLINE_ACCESS in self.scopes

    @classmethod
    def from_key(cls, key: str) -> Target:
        """Inverse of :attr:`key` (used when listing what is stored)."""
        try:
            # host and client_id never contain "|" (canonical_host, resolve_target), nor does a scope (_KEY_SCOPE)
            where, client_id, scopes = key.split("|", 2)
        except ValueError as exc:
            raise ConfigError(f"not a scopedauth key: {key!r}") from exc
        host, _, account = where.partition("/accounts/")
        return cls(host=host, client_id=client_id, scopes=parse_scopes(scopes), account_id=account or None)

    def login_command(self) -> str:
        """The exact ``scopedauth login …`` command that creates this grant."""
        import shlex  # only when a hint is printed

        return shlex.join(self.command_words("login"))

    def command_words(self, verb: str, *, client_id: bool = False) -> list[str]:
        """``scopedauth <verb>`` with the options that name this target (for exact hints).

        ``client_id`` forces ``--client-id`` even for the default client (service principals).
        A target that came from a profile is named by ``--profile NAME``, plus ``--client-id``
        and ``--scopes`` where it differs from what that profile resolves to (here, now); when
        the profile no longer names this host and account, by ``--host``.
        """
        base = self._profile_base()
        if base is None:
            words = ["scopedauth", verb, "--host", self.host]
            if self.account_id:
                words += ["--account-id", self.account_id]
            if client_id or self.client_id != DEFAULT_CLIENT_ID:
                words += ["--client-id", self.client_id]
        else:
            words = ["scopedauth", verb, "--profile", str(self.profile)]
            if client_id or self.client_id != base.client_id:
                words += ["--client-id", self.client_id]
            if self.scopes == base.scopes:
                return words
        wanted = [s for s in self.scopes if s != OFFLINE_ACCESS]
        if wanted:
            words += ["--scopes", " ".join(wanted)]
        elif self.scopes:  # offline_access alone: without --scopes the login would ask for all-apis
            words += ["--scopes", OFFLINE_ACCESS]
        if not self.refreshable:
            words.append("--no-refresh-token")
        return words

    def _profile_base(self) -> Target | None:
        """What ``--profile`` alone resolves to (all-apis without scopes, as login asks), if it names our host."""
        if not self.profile:
            return None
        try:
            base = resolve_target(profile=self.profile)
            if not base.scopes:
                base = resolve_target(profile=self.profile, scopes="all-apis")
        except ConfigError:
            return None
        return base if (base.host, base.account_id) == (self.host, self.account_id) else None

    def describe(self) -> str:
        """Human one-liner, never secret."""
        where = self.host + (f" (account {self.account_id})" if self.account_id else "")
        return f"{where} client={self.client_id} scopes={' '.join(self.scopes) or '-'}"


def _merge_sources(
    *,
    host: str | None = None,
    profile: str | None = None,
    account_id: str | None = None,
    client_id: str | None = None,
    env: Mapping[str, str],
    read_files: list[Path] | None = None,
) -> tuple[str | None, dict[str, str]]:
    """The profile used and the raw settings, merged the way databricks-sdk's ``Config`` merges them.

    Explicit arguments win over ``DATABRICKS_*`` variables, which win over the profile's values.
    With no profile named, the file is skipped when a host or any authentication setting is
    already given (argument or environment), as the SDK's ``_known_file_config_loader`` does.
    """
    values: dict[str, str] = {}
    for name, var in (
        ("host", "DATABRICKS_HOST"),
        ("account_id", "DATABRICKS_ACCOUNT_ID"),
        ("client_id", "DATABRICKS_CLIENT_ID"),
        ("disable_oauth_refresh_token", "DATABRICKS_DISABLE_OAUTH_REFRESH_TOKEN"),
    ):
        if env.get(var):
            values[name] = env[var]
    for name, given in (("host", host), ("account_id", account_id), ("client_id", client_id)):
        if given:
            values[name] = given
    named = profile
    profile = profile or env.get("DATABRICKS_CONFIG_PROFILE") or None
    # client_id is an authentication setting for the SDK whether it comes from the environment
    # or from an argument, so both skip the file.
    skip_file = profile is None and ("host" in values or "client_id" in values or any(env.get(v) for v in AUTH_ENV))
    if not skip_file:
        if read_files is not None:
            read_files.append(config_path(env))
        profile, file_values = load_profile(profile, env)
        if host and not named and profile and is_other_host(profile, file_values.get("host"), host, canonical_host):
            profile, file_values = None, {}  # a leftover DATABRICKS_CONFIG_PROFILE for another workspace
        for k, v in file_values.items():
            values.setdefault(k, v)
    return profile, values


def _is_true(value: str) -> bool:
    # Deliberately not databricks-sdk's rule: it applies bool() to the string, so
    # `disable_oauth_refresh_token = false` in a profile counts as true there.
    return value.strip().lower() in ("true", "1", "yes", "on")


def resolve_target(
    *,
    host: str | None = None,
    profile: str | None = None,
    account_id: str | None = None,
    client_id: str | None = None,
    scopes: str | Iterable[str] | None = None,
    refresh_token: bool | None = None,
    env: Mapping[str, str] | None = None,
    read_files: list[Path] | None = None,
    app: str | None = None,
) -> Target:
    """Build the :class:`Target` from arguments, environment and profile, SDK precedence.

    ``app`` is accepted so every :class:`TargetOptions` can be passed on, but an app's scopes
    take a network lookup (:func:`scopedauth.grants.apps.app_target`); here it must be empty.

    Reads only the variables in :data:`RESOLVE_ENV`, and the config file when a profile
    applies; that file's path is appended to ``read_files`` when given, so a caller that
    remembers the answer knows what would make it stale.

    ``scopes`` empty everywhere leaves :attr:`Target.scopes` empty: the caller then picks the
    one stored grant for that host, or asks for ``all-apis`` at login. ``offline_access`` is
    added unless ``refresh_token`` is False or the profile sets
    ``disable_oauth_refresh_token``.

    Deliberate differences from databricks-sdk (pinned by tests/test_config_sdk.py): the host is
    canonicalised (lower case; paths, queries and plain http refused), ``SCOPEDAUTH_SCOPES`` is
    read, scopes also split on tabs and newlines, ``disable_oauth_refresh_token`` is parsed as a
    boolean word, a profile named but absent is an error even when the file is missing, an
    ``account_id`` on a workspace host is dropped unless passed explicitly, and an explicit
    ``host`` is never mixed with a profile that only ``DATABRICKS_CONFIG_PROFILE`` chose when
    that profile names another host: the profile is ignored, with one warning on stderr (the
    SDK would take its client id and scopes, for a token the other workspace issued).
    """
    if app:
        raise ConfigError(f"app {app!r}: its scopes are read by scopedauth.get_token/login, not resolve_target")
    env = os.environ if env is None else env
    profile, values = _merge_sources(
        host=host, profile=profile, account_id=account_id, client_id=client_id, env=env, read_files=read_files
    )
    if not values.get("host"):
        raise ConfigError("no workspace: pass --host https://<workspace-host>, --profile NAME, or set DATABRICKS_HOST")
    wanted = parse_scopes(scopes) or parse_scopes(env.get("SCOPEDAUTH_SCOPES")) or parse_scopes(values.get("scopes"))
    if refresh_token is None:
        refresh_token = not _is_true(values.get("disable_oauth_refresh_token", ""))
    if wanted and refresh_token and OFFLINE_ACCESS not in wanted:
        wanted = tuple(sorted((*wanted, OFFLINE_ACCESS)))
    if wanted and not refresh_token:
        wanted = tuple(s for s in wanted if s != OFFLINE_ACCESS)
    canon = canonical_host(values["host"], _host_field(host, profile, env))
    acct = values.get("account_id") or None
    if acct is not None and not account_id and not _is_account_host(canon):
        acct = None  # workspace profiles often carry account_id too; that is not an account login
    if acct is not None and not _ACCOUNT_ID.fullmatch(acct):
        raise ConfigError(f"not an account id: {acct!r}")
    if acct is None and _is_account_host(canon):
        raise ConfigError(f"{canon} is an account console: pass --account-id (or set DATABRICKS_ACCOUNT_ID)")
    cid = values.get("client_id") or DEFAULT_CLIENT_ID
    if not _CLIENT_ID.fullmatch(cid):
        raise ConfigError(f"not an OAuth client id (no white space or '|'): {cid!r}")
    return Target(host=canon, client_id=cid, scopes=wanted, account_id=acct, profile=profile)


def _host_field(host: str | None, profile: str | None, env: Mapping[str, str]) -> str:
    """Where the host came from, as errors name it (same precedence as :func:`_merge_sources`)."""
    if host:
        return "--host"
    if env.get("DATABRICKS_HOST"):
        return "DATABRICKS_HOST"
    return f"host of profile {profile or 'DEFAULT'} in {config_path(env)}"


def _is_account_host(host: str) -> bool:
    """Account consoles: the three public ones, or any ``accounts.*`` / ``accounts-dod.*`` host."""
    hostname = parse_host(host).host
    return hostname in _ACCOUNT_HOSTS or hostname.startswith(_ACCOUNT_PREFIXES)
