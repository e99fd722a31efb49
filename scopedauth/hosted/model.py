"""The two kinds of row every hosted store keeps, and the contract a store fulfils.

Secrets never reach a row in the clear: a session is keyed by the SHA-256 of its cookie value,
a login attempt by the SHA-256 of the pre-login cookie, and the token record and PKCE verifier
are AES-GCM ciphertexts (:mod:`scopedauth.hosted.keys`).

The concurrency rules live here, in the contract, so that SQLite, PostgreSQL and Redis all
behave alike (one contract test suite runs against each):

* :meth:`HostedStore.take_attempt` is single use: of two concurrent takers one gets the row.
* :meth:`HostedStore.try_lease` is a compare-and-set on the generation: it succeeds only when
  the row still has the generation the caller read and no unexpired lease.
* :meth:`HostedStore.complete_refresh` is a compare-and-set on generation *and* lease owner:
  a holder whose lease was taken over cannot overwrite the newer holder's result.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ATTEMPT_TTL", "SCHEMA_VERSION", "HostedStore", "LoginAttempt", "SessionRow", "digest"]

#: a login must come back within ten minutes
ATTEMPT_TTL = 600.0
SCHEMA_VERSION = 1


def digest(value: str) -> str:
    """SHA-256 hex: the only form in which a cookie value or ``state`` is ever stored."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoginAttempt:
    """A login between redirect and callback, keyed by the hash of the browser's pre-login cookie."""

    browser_hash: str
    tenant: str
    state_hash: str
    kid: str
    ciphertext: str  # the PKCE verifier
    return_to: str
    expires_at: float


@dataclass(frozen=True)
class SessionRow:
    """One signed-in browser. ``generation`` counts refreshes; ``lease_*`` names the refresher."""

    id_hash: str
    tenant: str
    subject: str
    client_id: str
    scopes: str
    kid: str
    ciphertext: str  # the Token record as JSON
    expires_at: float  # the access token's expiry (epoch seconds; 0 when the server gave none)
    absolute_expiry: float  # the session ends here whatever happens
    created_at: float
    generation: int = 0
    lease_owner: str = ""
    lease_until: float = 0.0
    revoked_at: float | None = None


class HostedStore(ABC):
    """A shared store every replica reads and writes. Times are epoch seconds from the caller."""

    url: str

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema; safe to run from several replicas at once."""

    @abstractmethod
    def schema_version(self) -> int:
        """0 when the store was never migrated."""

    # -- login attempts -------------------------------------------------------------------
    @abstractmethod
    def put_attempt(self, attempt: LoginAttempt) -> None:
        """Store (or replace) the browser's pending login."""

    @abstractmethod
    def take_attempt(self, browser_hash: str, now: float) -> LoginAttempt | None:
        """Remove and return the browser's pending login; None when absent, taken or expired."""

    # -- sessions --------------------------------------------------------------------------
    @abstractmethod
    def create_session(self, row: SessionRow) -> None: ...

    @abstractmethod
    def get_session(self, id_hash: str) -> SessionRow | None: ...

    @abstractmethod
    def try_lease(self, id_hash: str, generation: int, owner: str, until: float, now: float) -> bool:
        """Take the refresh lease when the row is at ``generation``, not revoked and not leased."""

    @abstractmethod
    def complete_refresh(
        self, id_hash: str, generation: int, owner: str, *, kid: str, ciphertext: str, expires_at: float
    ) -> bool:
        """Write the refreshed record, bump the generation and drop the lease, if ``owner`` still holds it."""

    @abstractmethod
    def release_lease(self, id_hash: str, generation: int, owner: str) -> None:
        """Give the lease back unchanged (the refresh failed in a way that may pass)."""

    @abstractmethod
    def revoke_session(self, id_hash: str, now: float, *, held: tuple[int, str] | None = None) -> bool:
        """Mark the session dead and drop its ciphertext (the grant is gone at the server).

        ``held=(generation, owner)``: only while ``owner`` still holds the lease at that
        generation. A refresher whose lease was taken over must not revoke: its
        ``invalid_grant`` may only mean the next holder already spent the refresh token.
        """

    @abstractmethod
    def delete_session(self, id_hash: str) -> None: ...

    @abstractmethod
    def sessions_of(self, tenant: str, subject: str) -> list[SessionRow]: ...

    @abstractmethod
    def iter_sessions(self) -> Iterator[SessionRow]:
        """Every session row (for ``rotate-keys``)."""

    @abstractmethod
    def rewrap(self, id_hash: str, generation: int, old_kid: str, *, kid: str, ciphertext: str) -> bool:
        """Replace the ciphertext with one under another key, if nobody refreshed in between."""

    @abstractmethod
    def purge(self, now: float) -> int:
        """Delete expired attempts and sessions past their absolute expiry or revoked; return how many."""

    @abstractmethod
    def close(self) -> None: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self.url)!r})"


def redact_url(url: str) -> str:
    """The store URL without its password, for messages and reprs.

    Query values go too: psycopg and redis-py both accept ``?password=…``, and these
    messages end up in the app's log.
    """
    from urllib.parse import parse_qsl, urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"  # not .port: it raises when malformed
    if query:
        query = "&".join(f"{name}=***" for name, _value in parse_qsl(query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
