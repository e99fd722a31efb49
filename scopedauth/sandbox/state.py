"""Thread-safe in-memory state: the stores behind both servers, counters, injected failures.

One re-entrant lock guards everything. The token and revocation endpoints hold it for the
whole grant (validate, issue, rotate), so concurrent refreshes with one token serialize and
exactly one of them can win.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

from .config import CONSENT_LIFETIME, GRANT_TYPE_TOKEN_EXCHANGE, SandboxConfig
from .records import ACTIVE, REVOKED, ROTATED, AccessToken, AuthCode, Client, Family, RefreshToken, User


@dataclass
class SandboxStats:
    """Counters a test can assert on. Read the attributes; the server calls `incr`."""

    authorize_requests: int = 0
    codes_issued: int = 0
    code_exchanges: int = 0
    refreshes: int = 0
    refresh_failures: int = 0
    family_revocations: int = 0
    client_credentials: int = 0
    token_exchanges: int = 0
    revocations: int = 0
    token_requests: int = 0
    apps_api_requests: int = 0
    app_requests_forwarded: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _names(self) -> list[str]:
        return [f.name for f in fields(self) if not f.name.startswith("_")]

    def incr(self, name: str, n: int = 1) -> None:
        if name not in self._names():
            raise AttributeError(name)
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {name: getattr(self, name) for name in self._names()}

    def reset(self) -> None:
        with self._lock:
            for name in self._names():
                setattr(self, name, 0)


def build_clients(config: SandboxConfig) -> dict[str, Client]:
    public_grants = frozenset({"authorization_code", "refresh_token", GRANT_TYPE_TOKEN_EXCHANGE})
    secret_grants = frozenset({"client_credentials", GRANT_TYPE_TOKEN_EXCHANGE})
    clients = {cid: Client(cid, None, tuple(uris), public_grants) for cid, uris in config.redirect_uris.items()}
    for cid, secret in config.confidential_clients.items():
        clients[cid] = Client(cid, secret, (), secret_grants)
    for cid, (secret, uris) in config.web_clients.items():
        clients[cid] = web_client(cid, secret, uris)
    return clients


def web_client(client_id: str, secret: str, redirect_uris: list[str]) -> Client:
    """A confidential OAuth app integration: code (+PKCE) and rotating refresh tokens."""
    return Client(client_id, secret, tuple(redirect_uris), frozenset({"authorization_code", "refresh_token"}))


class Store:
    def __init__(self, config: SandboxConfig, stats: SandboxStats) -> None:
        self.config = config
        self.stats = stats
        self.lock = threading.RLock()
        self.user = User(config.user)
        self.clients = build_clients(config)
        self.url = ""  # set by Sandbox.start once the ports are bound
        self.app_url = ""
        self._codes: dict[str, AuthCode] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._families: dict[str, Family] = {}
        self._consents: dict[str, tuple[str, list[tuple[str, str]], float]] = {}
        self._failures: list[int] = []  # statuses still to inject, one per token request

    # -- clients and codes -------------------------------------------------------------
    def query_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def save_code(self, code: AuthCode) -> None:
        with self.lock:
            now = time.time()
            for stale in [c for c, rec in self._codes.items() if rec.expires_at <= now]:
                del self._codes[stale]
            self._codes[code.code] = code

    def find_code(self, code: str, client_id: str, realm: str) -> AuthCode | None:
        with self.lock:
            rec = self._codes.get(code)
        if rec is None or rec.client_id != client_id or rec.realm != realm or rec.is_expired():
            return None
        return rec

    def delete_code(self, code: str) -> None:
        with self.lock:
            self._codes.pop(code, None)

    # -- tokens ---------------------------------------------------------------------
    def save_tokens(
        self,
        token: dict[str, Any],
        *,
        client_id: str,
        user: User,
        realm: str,
        family_id: str | None,
        refresh_scope: str,
    ) -> None:
        now = time.time()
        with self.lock:
            if "refresh_token" in token and family_id is None:
                family_id = secrets.token_hex(8)
            family = self._families.setdefault(family_id, Family(family_id)) if family_id else None
            access = AccessToken(
                token["access_token"],
                client_id,
                user,
                token.get("scope", ""),
                realm,
                now + int(token.get("expires_in", self.config.access_token_lifetime)),
                family_id,
            )
            self._access[access.token] = access
            if family is not None:
                family.access_tokens.add(access.token)
            if "refresh_token" in token and family is not None:
                refresh = RefreshToken(
                    token["refresh_token"],
                    client_id,
                    user,
                    refresh_scope,
                    realm,
                    now + self.config.refresh_token_lifetime,
                    family_id,
                )
                self._refresh[refresh.token] = refresh
                family.refresh_tokens.add(refresh.token)

    def mint_access_token(self, scopes: list[str], lifetime: int | None, realm: str) -> str:
        token = secrets.token_urlsafe(32)
        life = self.config.access_token_lifetime if lifetime is None else lifetime
        rec = AccessToken(token, "databricks-cli", self.user, " ".join(scopes), realm, time.time() + life)
        with self.lock:
            self._access[token] = rec
        return token

    def find_refresh(self, token: str, realm: str) -> RefreshToken | None:
        with self.lock:
            rec = self._refresh.get(token)
        return rec if rec is not None and rec.realm == realm else None

    def family_revoked(self, family_id: str | None) -> bool:
        with self.lock:
            family = self._families.get(family_id or "")
            return family is not None and family.revoked

    def rotate(self, rec: RefreshToken) -> None:
        with self.lock:
            if rec.status == ACTIVE:
                rec.status = ROTATED

    def revoke_family(self, family_id: str | None, *, reuse: bool) -> None:
        """Revoke every token of the family. A reuse-triggered revocation is counted once."""
        with self.lock:
            family = self._families.get(family_id or "")
            if family is None or family.revoked:
                return
            family.revoked = True
            for token in family.refresh_tokens:
                self._refresh[token].status = REVOKED
            for token in family.access_tokens:
                self._access[token].revoked = True
        if reuse:
            self.stats.incr("family_revocations")

    def find_token(self, token: str, realm: str) -> AccessToken | RefreshToken | None:
        with self.lock:
            rec: AccessToken | RefreshToken | None = self._access.get(token) or self._refresh.get(token)
        return rec if rec is not None and rec.realm == realm else None

    def revoke(self, rec: AccessToken | RefreshToken) -> None:
        with self.lock:
            if isinstance(rec, RefreshToken):
                if rec.family_id:
                    self.revoke_family(rec.family_id, reuse=False)
                rec.status = REVOKED
            else:
                rec.revoked = True

    def check_access(self, token: str | None, realm: str) -> tuple[AccessToken | None, str]:
        """Return (record, "") for a usable access token, else (None, why)."""
        if not token:
            return None, "Credential was not sent or was of an unsupported type for this API."
        with self.lock:
            rec = self._access.get(token)
        if rec is None or rec.realm != realm:
            return None, "Invalid access token."
        if rec.revoked:
            return None, "The access token has been revoked."
        if rec.is_expired():
            return None, "The access token has expired."
        return rec, ""

    def expire_access_tokens(self) -> None:
        with self.lock:
            past = time.time() - 1
            for rec in self._access.values():
                rec.expires_at = min(rec.expires_at, past)

    # -- consent pages ----------------------------------------------------------------
    def open_consent(self, realm: str, params: list[tuple[str, str]]) -> str:
        csrf = secrets.token_urlsafe(24)
        with self.lock:
            now = time.time()
            for stale in [k for k, (_, _, born) in self._consents.items() if born + CONSENT_LIFETIME < now]:
                del self._consents[stale]
            self._consents[csrf] = (realm, params, now)
        return csrf

    def close_consent(self, csrf: str, realm: str) -> list[tuple[str, str]] | None:
        """Single use: the hidden request fields recorded when the page was shown."""
        with self.lock:
            entry = self._consents.pop(csrf, None)
        if entry is None or entry[0] != realm or entry[2] + CONSENT_LIFETIME < time.time():
            return None
        return entry[1]

    # -- failure injection ----------------------------------------------------------------
    def fail_next(self, n: int, status: int) -> None:
        with self.lock:
            self._failures = [status] * n

    def take_failure(self) -> int | None:
        with self.lock:
            return self._failures.pop() if self._failures else None
