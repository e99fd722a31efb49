"""Single-flight refresh across replicas: one lease, one POST, one compare-and-set write-back.

The ladder for a request whose session row was read at generation *g*:

1. The access token has more than min(5 min, half its lifetime) left → serve it (the CLI's rule,
   :meth:`~scopedauth.tokens.Token.wants_refresh`).
2. Take the lease: compare-and-set "generation is still *g* and nobody holds an unexpired
   lease". The winner POSTs the refresh token once, with an HTTP timeout shorter than the
   lease, and writes the result back with a compare-and-set on *g* and its own lease. The
   generation becomes *g + 1*.
3. The losers serve the access token they already have while it has more than 40 s left, and
   otherwise poll the row until the generation changes (then serve the new token) or the lease
   ends (then go back to 2: a holder that died lets the next replica take over).
4. ``invalid_grant``: the grant is dead at the workspace; the session is revoked and the
   visitor signs in again. Any other failure gives the lease back at once.

Why no fencing token is needed: see "Design note" in docs/hosted.md. In short, the only
shared state a stale holder could corrupt is the row, and the write-back's compare-and-set on
(generation, lease owner) *is* the fence: a holder whose lease was taken over cannot write.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InvalidGrantError, NetworkError, StorageError, TokenEndpointError
from ..tokens import Token
from .errors import NotSignedInError
from .keys import Keyring, associated_data
from .model import HostedStore, SessionRow
from .webclient import WebClient

__all__ = ["Refresher", "open_token", "seal_token"]

log = logging.getLogger("scopedauth.hosted")


def session_aad(row: SessionRow) -> bytes:
    """What binds a session ciphertext to its row: id hash, tenant, subject, client."""
    return associated_data("session", row.id_hash, row.tenant, row.subject, row.client_id)


def seal_token(keys: Keyring, row: SessionRow, token: Token) -> tuple[str, str]:
    """``(kid, ciphertext)`` of the token record, bound to the row's identity."""
    return keys.encrypt(token.to_json().encode("utf-8"), session_aad(row))


def open_token(keys: Keyring, row: SessionRow) -> Token:
    if row.revoked_at is not None or not row.ciphertext:
        raise NotSignedInError("this sign-in was revoked; sign in again")
    plain = keys.decrypt(row.kid, row.ciphertext, session_aad(row))
    return Token.from_json(plain.decode("utf-8"), where="the hosted store")


@dataclass
class Refresher:
    store: HostedStore
    keys: Keyring
    client: WebClient
    #: seconds a replica may hold the refresh lease
    lease: float = 30.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    poll: float = 0.05

    @property
    def http_timeout(self) -> tuple[float, float]:
        """(connect, read) seconds, together well inside the lease."""
        return (min(5.0, self.lease / 6), self.lease / 2)

    def token(self, row: SessionRow) -> Token:
        """A usable access token for the session, refreshing it at most once across replicas."""
        deadline = self.clock() + 2 * self.lease + 5
        poll = self.poll
        while True:
            token = open_token(self.keys, row)
            if not token.wants_refresh() and token.is_valid():
                return token
            if not token.refresh_token:
                if token.is_valid():
                    return token
                raise NotSignedInError("the session's token expired and cannot be refreshed; sign in again")
            now = self.clock()
            owner = secrets.token_hex(16)
            if row.lease_until <= now and self.store.try_lease(
                row.id_hash, row.generation, owner, now + self.lease, now
            ):
                return self._refresh(row, token, owner)
            if token.is_valid():
                return token  # another replica is refreshing; this one is still good
            if self.clock() > deadline:
                raise StorageError("timed out waiting for another replica to refresh the session")
            self.sleep(poll)
            poll = min(poll * 1.5, 0.5)  # many waiters on one slow refresh: fewer reads as it drags on
            fresh = self.store.get_session(row.id_hash)
            if fresh is None:
                raise NotSignedInError("you were signed out; sign in again")
            row = fresh

    def _refresh(self, row: SessionRow, token: Token, owner: str) -> Token:
        try:
            new = self.client.refresh(token, self.http_timeout)
        except InvalidGrantError:
            if self.store.revoke_session(row.id_hash, self.clock(), held=(row.generation, owner)):
                log.warning("the workspace refused the session's refresh token (invalid_grant); session revoked")
                raise NotSignedInError("the workspace ended this sign-in; sign in again") from None
            # our lease was taken over while the POST ran: the refresh token we sent may have
            # been spent by the next holder, whose result stands. Only this request fails.
            log.warning("a refresh answered invalid_grant after its lease was taken over; session left to its holder")
            raise NotSignedInError("this sign-in was refreshed elsewhere meanwhile; sign in again") from None
        except (NetworkError, TokenEndpointError):
            self.store.release_lease(row.id_hash, row.generation, owner)
            if token.is_valid():
                log.warning("refresh failed; serving the current token until it expires", exc_info=False)
                return token
            raise
        except BaseException:
            self.store.release_lease(row.id_hash, row.generation, owner)
            raise
        kid, blob = seal_token(self.keys, row, new)
        expires = new.expiry.timestamp() if new.expiry else 0.0
        if not self.store.complete_refresh(
            row.id_hash, row.generation, owner, kid=kid, ciphertext=blob, expires_at=expires
        ):
            # our lease was taken over while the POST ran (it outlived the lease): the row is
            # someone else's now. This request may still use the token it got.
            log.warning("refresh finished after its lease was taken over; the result was not stored")
        return new
