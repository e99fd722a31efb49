"""Service principals (M2M): the client-credentials grant, and minting again when stale.

A service principal has a client secret instead of a person, so there is no browser and no
refresh token: the access token is cached like any other record, and when it goes stale the
ladder mints a new one from the same secret (under the target's lock, like a refresh).

Where the secret comes from, in order: ``--client-secret-env VAR``; ``DATABRICKS_CLIENT_SECRET``
when ``DATABRICKS_CLIENT_ID`` names this very client and ``DATABRICKS_HOST`` (and
``DATABRICKS_ACCOUNT_ID``, for an account) this very target; the profile's ``client_secret`` when
the profile's host and ``client_id`` are this target's. A secret is never sent to a host that
only a URL suggested (:func:`no_ambient_secret`, used by ``scopedauth call``). The record remembers only *where* (the
variable's or profile's name), never the secret. ``--store-secret`` keeps the secret itself in
the same store under its own key, ``<record key>#client-secret``, so a later process can mint
without the variable; it is never in the record's JSON and never printed.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from ..config import DEFAULT_CLIENT_ID, Target, canonical_host
from ..databrickscfg import load_profile
from ..errors import ConfigError, LoginRequiredError, TokenEndpointError
from ..oauth import client as oauth
from ..oauth.endpoints import Endpoints, discover
from ..paths import is_env_name
from ..storage.store import TokenStore
from ..tokens import CLIENT_CREDENTIALS, Grant, Token

__all__ = [
    "ENV_CLIENT_ID",
    "ENV_CLIENT_SECRET",
    "choose_secret",
    "find_secret",
    "forget_secret",
    "login",
    "login_command",
    "mint_from_environment",
    "no_ambient_secret",
    "remint",
    "secret_key",
]

ENV_CLIENT_ID = "DATABRICKS_CLIENT_ID"
ENV_CLIENT_SECRET = "DATABRICKS_CLIENT_SECRET"
ENV_HOST = "DATABRICKS_HOST"
ENV_ACCOUNT_ID = "DATABRICKS_ACCOUNT_ID"
SECRET_SUFFIX = "#client-secret"
_ambient_allowed: ContextVar[bool] = ContextVar("scopedauth_ambient_secret", default=True)


@contextmanager
def no_ambient_secret() -> Iterator[None]:
    """Within: :func:`find_secret` finds no secret in the environment or a profile.

    For a target whose host nobody named (``scopedauth call URL`` takes the URL's origin): a
    service principal's secret must never be posted to a host just because a URL pointed there.
    Only an explicit ``--client-secret-env`` still counts.
    """
    reset = _ambient_allowed.set(False)
    try:
        yield
    finally:
        _ambient_allowed.reset(reset)


def secret_key(target: Target) -> str:
    """The store key of a kept client secret: the record's key plus ``#client-secret``."""
    return target.key + SECRET_SUFFIX


def _env_secret(name: str, env: Mapping[str, str]) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _env_names_target(target: Target, env: Mapping[str, str]) -> bool:
    """Whether ``DATABRICKS_HOST`` (and ``DATABRICKS_ACCOUNT_ID`` for an account) name ``target``."""
    try:
        host = canonical_host(env.get(ENV_HOST, ""))
    except ConfigError:
        return False
    if host != target.host:
        return False
    return not target.account_id or env.get(ENV_ACCOUNT_ID) == target.account_id


def _profile_secret(target: Target, profile: str | None, env: Mapping[str, str]) -> tuple[str, str] | None:
    """``(secret, profile name)`` when that profile is for this host and client, else None."""
    try:
        name, values = load_profile(profile, env)
        host = canonical_host(values.get("host", ""))
    except ConfigError:
        return None
    secret = values.get("client_secret", "").strip()
    if not secret or host != target.host or values.get("client_id") != target.client_id:
        return None
    if target.account_id and values.get("account_id") != target.account_id:
        return None
    return secret, name or profile or "DEFAULT"


def find_secret(
    target: Target, secret_env: str | None = None, env: Mapping[str, str] | None = None
) -> tuple[str, Grant] | None:
    """The client secret for ``target`` and the :class:`Grant` that says where it came from.

    ``secret_env`` (``--client-secret-env``) must name a set variable (ConfigError otherwise).
    Without it, None when no source has a secret for this exact client.
    """
    env = os.environ if env is None else env
    if secret_env is not None:
        if target.client_id == DEFAULT_CLIENT_ID:
            raise ConfigError(f"--client-secret-env needs --client-id: {DEFAULT_CLIENT_ID} is a public client")
        if not is_env_name(secret_env):
            raise ConfigError(f"--client-secret-env takes a variable name, not {secret_env!r}")
        secret = _env_secret(secret_env, env)
        if secret is None:
            raise ConfigError(f"--client-secret-env {secret_env}: the variable {secret_env} is not set or is empty")
        return secret, Grant(CLIENT_CREDENTIALS, client_secret_env=secret_env)
    if target.client_id == DEFAULT_CLIENT_ID:
        return None  # the public CLI client has no secret, whatever the environment says
    if not _ambient_allowed.get():
        return None
    secret = _env_secret(ENV_CLIENT_SECRET, env)
    if secret is not None and env.get(ENV_CLIENT_ID) == target.client_id and _env_names_target(target, env):
        return secret, Grant(CLIENT_CREDENTIALS, client_secret_env=ENV_CLIENT_SECRET)
    found = _profile_secret(target, target.profile, env)
    if found is not None:
        return found[0], Grant(CLIENT_CREDENTIALS, client_secret_profile=found[1])
    return None


def choose_secret(
    target: Target, secret_env: str | None, *, user_only: bool, store_secret: bool
) -> tuple[str, Grant] | None:
    """For ``login``: the secret to use, or None for a user login.

    ``user_only``: a flag that only a browser login has (``--paste``, ``--no-browser``,
    ``--redirect-uri``, ``--browser-command``) was given; with ``--client-secret-env`` that is a
    contradiction, and without it the environment's secret is not used.
    """
    if secret_env is not None and user_only:
        raise ConfigError(
            "--client-secret-env logs in a service principal (no browser); "
            "--paste, --no-browser, --redirect-uri and --browser-command are for user logins"
        )
    found = None if user_only else find_secret(target, secret_env)
    if store_secret and found is None:
        raise ConfigError(
            "--store-secret keeps a service principal's client secret: give it with --client-secret-env VAR "
            f"(or {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET})"
        )
    return found


def mint_from_environment(target: Target, store: TokenStore) -> Token | None:
    """Rung 3 with nothing usable stored: mint when the environment or profile has this client's secret.

    What CI expects from databricks-sdk: ``DATABRICKS_HOST``, ``DATABRICKS_CLIENT_ID`` and
    ``DATABRICKS_CLIENT_SECRET`` set, and ``scopedauth token`` just works. Caller holds the lock.
    """
    found = find_secret(target)
    if found is None:
        return None
    token = _mint(target, discover(target), found[0]).replace(grant=found[1])
    store.save(token)
    return token


def login_command(target: Target, grant: Grant | None) -> str:
    """The ``scopedauth login`` command that logs this service principal in again."""
    if grant is not None and grant.client_secret_profile:
        words = target.replace(profile=grant.client_secret_profile).command_words("login", client_id=True)
        if words[2] != "--profile":  # the profile no longer names this host: name both
            words += ["--profile", grant.client_secret_profile]
    else:
        words = target.command_words("login", client_id=True)
        words += ["--client-secret-env", (grant.client_secret_env if grant else None) or ENV_CLIENT_SECRET]
    return shlex.join(words)


def login(target: Target, store: TokenStore, *, secret: str, grant: Grant, store_secret: bool = False) -> Token:
    """Mint a token with the client-credentials grant and store it (caller holds the lock).

    With ``store_secret`` the secret is kept under :func:`secret_key`; without it a secret kept
    by an earlier login is removed, so the store never holds a secret the user did not ask for.
    """
    token = _mint(target, discover(target), secret)
    grant = Grant(
        CLIENT_CREDENTIALS,
        client_secret_env=grant.client_secret_env,
        client_secret_profile=grant.client_secret_profile,
        client_secret_stored=store_secret,
    )
    if store_secret:
        store.backend.set(secret_key(target), secret)
    else:
        forget_secret(store, target)
    token = token.replace(grant=grant)
    store.save(token)
    return token


def _mint(target: Target, endpoints: Endpoints, secret: str) -> Token:
    try:
        return oauth.client_credentials(target, endpoints, secret)
    except TokenEndpointError as exc:
        raise oauth.redacted(exc, secret) from None


def forget_secret(store: TokenStore, target: Target) -> None:
    """Remove a kept client secret (no error when there is none)."""
    if store.backend.get(secret_key(target)) is not None:
        store.backend.delete(secret_key(target))


def _env_still_ours(target: Target, name: str, env: Mapping[str, str]) -> bool:
    """Whether the variable a record names may still be read for this target.

    A variable the user chose (``--client-secret-env VAR``) is theirs to keep right. The SDK's
    shared ``DATABRICKS_CLIENT_SECRET`` may meanwhile belong to another service principal or
    workspace, so it counts only while ``DATABRICKS_CLIENT_ID`` and ``DATABRICKS_HOST`` still
    name this one, exactly as when the record was first minted (:func:`find_secret`).
    """
    if name != ENV_CLIENT_SECRET:
        return True
    return _ambient_allowed.get() and env.get(ENV_CLIENT_ID) == target.client_id and _env_names_target(target, env)


def _secret_for(token: Token, store: TokenStore, env: Mapping[str, str]) -> str | None:
    grant = token.grant
    if grant is None:
        return None
    if grant.client_secret_env and _env_still_ours(token.target, grant.client_secret_env, env):
        secret = _env_secret(grant.client_secret_env, env)
        if secret:
            return secret
    if grant.client_secret_profile:
        found = _profile_secret(token.target, grant.client_secret_profile, env)
        if found:
            return found[0]
    if grant.client_secret_stored:
        return store.backend.get(secret_key(token.target))
    return None


def remint(token: Token, store: TokenStore, env: Mapping[str, str] | None = None) -> Token:
    """A new access token for a stale client-credentials record (caller holds the lock).

    Raises :class:`LoginRequiredError` naming the variable to set when no secret is available.
    """
    env = os.environ if env is None else env
    grant = token.grant
    secret = _secret_for(token, store, env)
    if not secret:
        where = (
            f"set {grant.client_secret_env}"
            if grant and grant.client_secret_env
            else f"add client_secret to profile {grant.client_secret_profile}"
            if grant and grant.client_secret_profile
            else f"set {ENV_CLIENT_SECRET}"
        )
        raise LoginRequiredError(
            f"the token of service principal {token.target.client_id} is stale and its client secret is not "
            f"available to mint a new one: {where} (or log in again with --store-secret)",
            login_command(token.target, grant),
        )
    endpoints = (
        Endpoints(authorization_endpoint="", token_endpoint=token.token_endpoint)
        if token.token_endpoint
        else discover(token.target)
    )
    fresh = _mint(token.target, endpoints, secret).replace(grant=grant)
    store.save(fresh)
    return fresh
