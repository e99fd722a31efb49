"""HostedService: the framework-neutral core every web integration (Flask, ASGI) drives.

It knows cookies only as strings: the integration reads the request's cookies, calls
:meth:`begin_login`, :meth:`finish_login`, :meth:`token_for` or :meth:`logout`, and sets the
cookies it is told to (attributes from :class:`~scopedauth.hosted.web.CookiePolicy`).

Construction checks everything that can be wrong before the first visitor: host, scopes,
redirect URI, keys (``ConfigError``), and migrates the store.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import OFFLINE_ACCESS, Target, canonical_host, parse_scopes
from ..errors import AuthorizationDeniedError, ConfigError, ScopedAuthError
from ..oauth.pkce import make_state, make_verifier, s256_challenge
from ..tokens import Token
from .backends import open_store
from .errors import CallbackError, NotSignedInError
from .keys import Keyring, associated_data
from .model import ATTEMPT_TTL, HostedStore, LoginAttempt, SessionRow, digest
from .refresh import Refresher, open_token, seal_token
from .web import CookiePolicy, app_origin, safe_return_to
from .webclient import WebClient

__all__ = ["HostedService", "SessionInfo"]

#: a session ends after this long whatever happens (the visitor signs in again)
DEFAULT_SESSION_LIFETIME = 7 * 86400.0
#: seconds between two purges of ended sessions and stale login attempts, per replica
PURGE_EVERY = 3600.0


@dataclass(frozen=True)
class SessionInfo:
    """Who is signed in, without any token."""

    subject: str
    tenant: str
    scopes: tuple[str, ...]
    created_at: float


class HostedService:
    def __init__(
        self,
        *,
        host: str,
        client_id: str,
        client_secret: str,
        scopes: str | list[str] | tuple[str, ...],
        redirect_uri: str,
        store: str | HostedStore | None = None,
        keys: str | Keyring | None = None,
        session_lifetime: float = DEFAULT_SESSION_LIFETIME,
        lease: float = 30.0,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigError("a hosted app needs the client_id and client_secret of its OAuth app integration")
        wanted = parse_scopes(scopes)
        if not wanted:
            raise ConfigError("no scopes: pass the scopes the app needs, e.g. scopes='sql'")
        if OFFLINE_ACCESS not in wanted:
            wanted = (*wanted, OFFLINE_ACCESS)  # without it there is no refresh token to share
        self.target = Target(host=canonical_host(host), client_id=client_id, scopes=wanted)
        self.cookies = CookiePolicy.for_redirect_uri(redirect_uri)
        self.origin = app_origin(redirect_uri)
        self.keys = keys if isinstance(keys, Keyring) else Keyring(keys) if keys else Keyring.from_env()
        self.store = store if isinstance(store, HostedStore) else open_store(store, migrate=True)
        self.client = WebClient(self.target, client_secret, redirect_uri)
        self.session_lifetime = session_lifetime
        self.refresher = Refresher(self.store, self.keys, self.client, lease=lease)
        self._purged_at = 0.0

    def __repr__(self) -> str:
        return f"HostedService(host={self.target.host!r}, client_id={self.target.client_id!r}, store={self.store!r})"

    @property
    def tenant(self) -> str:
        return self.target.host

    # -- login ------------------------------------------------------------------------------
    def begin_login(self, return_to: str = "/") -> tuple[str, str]:
        """``(authorize URL, pre-login cookie value)``: a fresh browser binding every time."""
        browser, state, verifier = secrets.token_urlsafe(32), make_state(), make_verifier()
        browser_hash = digest(browser)
        kid, blob = self.keys.encrypt(verifier.encode("ascii"), _attempt_aad(browser_hash, self.tenant))
        self.store.put_attempt(
            LoginAttempt(
                browser_hash=browser_hash,
                tenant=self.tenant,
                state_hash=digest(state),
                kid=kid,
                ciphertext=blob,
                return_to=safe_return_to(return_to),
                expires_at=time.time() + ATTEMPT_TTL,
            )
        )
        return self.client.authorize_url(state=state, challenge=s256_challenge(verifier)), browser

    def finish_login(self, browser: str | None, params: Mapping[str, str]) -> tuple[str, str]:
        """Check the callback and create the session: ``(session cookie value, where to go)``.

        The browser's pending login is taken (single use) before anything else, so a replayed
        or forged callback also spends it. Nothing is written unless every check passes.
        """
        browser_hash = digest(browser) if browser else ""
        attempt = self.store.take_attempt(browser_hash, time.time()) if browser else None
        if attempt is None or attempt.tenant != self.tenant or attempt.browser_hash != browser_hash:
            raise CallbackError("no sign-in is in progress in this browser (or it expired); start again")
        if not hmac.compare_digest(attempt.state_hash, digest(params.get("state", ""))):
            raise CallbackError("the sign-in answer does not belong to this browser's sign-in (state mismatch)")
        if params.get("error"):
            raise AuthorizationDeniedError(params["error"][:100], (params.get("error_description") or "")[:300] or None)
        code = params.get("code")
        if not code:
            raise CallbackError("the sign-in answer carries no authorization code")
        verifier = self.keys.decrypt(attempt.kid, attempt.ciphertext, _attempt_aad(browser_hash, self.tenant))
        token, raw = self.client.exchange_code(code, verifier.decode("ascii"))
        subject = self.client.subject(token, raw)
        cookie = secrets.token_urlsafe(32)
        now = time.time()
        row = SessionRow(
            id_hash=digest(cookie),
            tenant=self.tenant,
            subject=subject,
            client_id=self.target.client_id,
            scopes=" ".join(token.granted_scopes),
            kid="",
            ciphertext="",
            expires_at=token.expiry.timestamp() if token.expiry else 0.0,
            absolute_expiry=now + self.session_lifetime,
            created_at=now,
        )
        kid, blob = seal_token(self.keys, row, token)
        self.store.create_session(_with_cipher(row, kid, blob))
        if now - self._purged_at > PURGE_EVERY:  # ended sessions go, at most hourly per replica
            self._purged_at = now
            self.store.purge(now)
        return cookie, safe_return_to(attempt.return_to)  # again: the row is only as safe as the store

    # -- requests ---------------------------------------------------------------------------
    def lookup(self, cookie: str | None) -> SessionRow:
        """The live session row of this cookie, for this app's tenant and client only.

        The row must also name the cookie's own hash: its ciphertext is bound to the row's
        ``id_hash`` field, so a whole row copied under another key (a Redis hash is a bag of
        fields) would otherwise decrypt for the wrong browser.
        """
        id_hash = digest(cookie) if cookie else ""
        row = self.store.get_session(id_hash) if cookie else None
        if row is None or row.id_hash != id_hash or not self._ours(row):
            raise NotSignedInError("not signed in")
        if row.revoked_at is not None or row.absolute_expiry <= time.time():
            raise NotSignedInError("this sign-in ended; sign in again")
        return row

    def token_for(self, cookie: str | None, row: SessionRow | None = None) -> Token:
        """This browser's fresh token (refreshed once across all replicas when it must be).

        The record comes without its refresh token: only the refresher may spend that, under
        the lease, so views, templates, logs and the SDK never hold one to spend or leak.
        ``row``: the row this request already looked up, saving a second read of the store.
        """
        token = self.refresher.token(row if row is not None else self.lookup(cookie))
        return token.replace(refresh_token=None)

    def session_for(self, cookie: str | None, row: SessionRow | None = None) -> SessionInfo:
        row = row if row is not None else self.lookup(cookie)
        return SessionInfo(row.subject, row.tenant, tuple(row.scopes.split()), row.created_at)

    def _ours(self, row: SessionRow) -> bool:
        """This app's row: its tenant (workspace) and its OAuth client, of all sharing the store."""
        return row.tenant == self.tenant and row.client_id == self.target.client_id

    # -- logout -----------------------------------------------------------------------------
    def logout(self, cookie: str | None) -> None:
        """Revoke at the workspace (when it can), then delete the row: every replica sees it at once."""
        id_hash = digest(cookie) if cookie else ""
        row = self.store.get_session(id_hash) if cookie else None
        if row is not None and row.id_hash == id_hash and self._ours(row):
            self._end(row)

    def logout_all(self, subject: str) -> int:
        """End every session of ``subject`` in this app (workspace and client); returns how many.

        Other apps sharing the store keep theirs: their tokens are not this client's to revoke.
        """
        rows = [row for row in self.store.sessions_of(self.tenant, subject) if self._ours(row)]
        for row in rows:
            self._end(row)
        return len(rows)

    def _end(self, row: SessionRow) -> None:
        try:
            token: Token | None = open_token(self.keys, row)
        except ScopedAuthError:  # a row we cannot read (revoked, old key) is still deleted
            token = None
        if token is not None:
            self.client.revoke(token)
        self.store.delete_session(row.id_hash)

    def close(self) -> None:
        self.store.close()


def _attempt_aad(browser_hash: str, tenant: str) -> bytes:
    return associated_data("login", browser_hash, tenant)


def _with_cipher(row: SessionRow, kid: str, blob: str) -> SessionRow:
    from dataclasses import replace

    return replace(row, kid=kid, ciphertext=blob)
