"""Token federation: trade another identity provider's token for a Databricks one (RFC 8693).

A CI job, a cloud workload or a user already signed in to Microsoft Entra ID (or GitHub
Actions, Okta, …) holds a JWT that Databricks trusts through a federation policy. ``scopedauth
exchange`` posts it to the token endpoint with
``grant_type=urn:ietf:params:oauth:grant-type:token-exchange`` and the requested scopes, and
stores the result like any other grant.

The subject token is read from a file (``--subject-token-file``, e.g. a projected service
account token that the platform rotates) or an environment variable (``--subject-token-env``).
The record keeps only that *source*, never the subject token, so a stale Databricks token is
exchanged again from the same source while it is available; when it is not (file gone,
variable unset, token refused as expired) the ladder raises :class:`LoginRequiredError` with
the ``scopedauth exchange`` command to run.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from ..config import Target
from ..errors import ConfigError, InvalidGrantError, LoginRequiredError, TokenEndpointError
from ..oauth import client as oauth
from ..oauth.endpoints import Endpoints, discover
from ..paths import is_env_name
from ..storage.store import TokenStore
from ..tokens import TOKEN_EXCHANGE, Grant, Token

__all__ = ["DEFAULT_SUBJECT_TOKEN_TYPE", "exchange", "exchange_command", "reexchange", "source"]

DEFAULT_SUBJECT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
MAX_SUBJECT_TOKEN = 65536
_TOKEN_TYPE = re.compile(r"^[\x21-\x7e]{1,200}$")


def source(
    *,
    subject_token_file: str | None = None,
    subject_token_env: str | None = None,
    subject_token_type: str | None = None,
) -> Grant:
    """The :class:`Grant` describing where the subject token lives (exactly one source)."""
    if (subject_token_file is None) == (subject_token_env is None):
        raise ConfigError("give exactly one of --subject-token-file FILE or --subject-token-env VAR")
    if subject_token_env is not None and not is_env_name(subject_token_env):
        raise ConfigError(f"--subject-token-env takes a variable name, not {subject_token_env!r}")
    token_type = subject_token_type or DEFAULT_SUBJECT_TOKEN_TYPE
    if not _TOKEN_TYPE.fullmatch(token_type):
        raise ConfigError(f"not a token type URI: {token_type!r}")
    path = str(Path(subject_token_file).expanduser().absolute()) if subject_token_file is not None else None
    return Grant(
        TOKEN_EXCHANGE, subject_token_file=path, subject_token_env=subject_token_env, subject_token_type=token_type
    )


def _describe(grant: Grant) -> str:
    return f"the file {grant.subject_token_file}" if grant.subject_token_file else f"${grant.subject_token_env}"


def read_subject_token(grant: Grant, env: Mapping[str, str] | None = None) -> str:
    """The subject token from its source; :class:`ConfigError` (naming only the source) if unavailable."""
    env = os.environ if env is None else env
    if grant.subject_token_file:
        try:
            with open(grant.subject_token_file, encoding="utf-8") as fh:
                text = fh.read(MAX_SUBJECT_TOKEN + 1)
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"cannot read the subject token from {_describe(grant)}: {why}") from None
    else:
        text = env.get(grant.subject_token_env or "", "")
    text = text.strip()
    if not text:
        raise ConfigError(f"no subject token in {_describe(grant)} (it is empty or not set)")
    if len(text) > MAX_SUBJECT_TOKEN or any(c.isspace() for c in text):
        raise ConfigError(f"{_describe(grant)} does not hold a single token")
    return text


def exchange_command(target: Target, grant: Grant) -> str:
    """The ``scopedauth exchange`` command that creates this grant again."""
    words = target.command_words("exchange")
    if grant.subject_token_file:
        words += ["--subject-token-file", grant.subject_token_file]
    else:
        words += ["--subject-token-env", grant.subject_token_env or "VAR"]
    if grant.subject_token_type and grant.subject_token_type != DEFAULT_SUBJECT_TOKEN_TYPE:
        words += ["--subject-token-type", grant.subject_token_type]
    return shlex.join(words)


def _exchange(target: Target, endpoints: Endpoints, grant: Grant, subject_token: str) -> Token:
    try:
        token = oauth.token_exchange(
            target, endpoints, subject_token, grant.subject_token_type or DEFAULT_SUBJECT_TOKEN_TYPE
        )
    except TokenEndpointError as exc:
        raise oauth.redacted(exc, subject_token) from None
    return token.replace(grant=grant)


def exchange(target: Target, store: TokenStore, grant: Grant) -> Token:
    """Read the subject token, exchange it, store the result (caller holds the lock)."""
    subject_token = read_subject_token(grant)
    token = _exchange(target, discover(target), grant, subject_token)
    store.save(token)
    return token


def reexchange(token: Token, store: TokenStore) -> Token:
    """A new access token for a stale token-exchange record (caller holds the lock).

    :class:`LoginRequiredError` when the source is gone or its token is refused as invalid
    (typically: expired); the record is kept, since the source may be renewed later.
    """
    grant = token.grant
    if grant is None:
        raise LoginRequiredError(f"nothing to exchange for {token.target.describe()}", token.target.login_command())
    command = exchange_command(token.target, grant)
    try:
        subject_token = read_subject_token(grant)
    except ConfigError as exc:
        raise LoginRequiredError(f"the Databricks token is stale and {exc}", command) from None
    endpoints = (
        Endpoints(authorization_endpoint="", token_endpoint=token.token_endpoint)
        if token.token_endpoint
        else discover(token.target)
    )
    try:
        fresh = _exchange(token.target, endpoints, grant, subject_token)
    except InvalidGrantError as exc:
        raise LoginRequiredError(
            f"the subject token in {_describe(grant)} was refused "
            f"({exc.error}: {exc.description or 'no reason given'}); renew it at its identity provider",
            command,
        ) from None
    store.save(fresh)
    return fresh
