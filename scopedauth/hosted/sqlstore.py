"""The SQL stores: SQLite (the embedded default) and PostgreSQL (psycopg 3), via SQLAlchemy Core.

Every compare-and-set is one ``UPDATE … WHERE`` whose row count says who won, and taking a
login attempt is one ``DELETE … RETURNING``: the database's own row locking makes them atomic
across processes and hosts, with no lock of ours. SQLite runs in WAL mode with a busy timeout so
replicas on one machine share the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine, delete, event, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ConfigError, StorageError
from . import schema
from .model import ATTEMPT_TTL, HostedStore, LoginAttempt, SessionRow, redact_url

__all__ = ["SQLStore", "engine_url"]

_SESSION_FIELDS = [c.name for c in schema.sessions.columns]
_ATTEMPT_FIELDS = [c.name for c in schema.attempts.columns]


def engine_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SQLStore(HostedStore):
    def __init__(self, url: str) -> None:
        self.url = url
        real = engine_url(url)
        try:
            if real.startswith("sqlite"):
                self.engine: Engine = create_engine(real, connect_args={"timeout": 30})
                event.listen(self.engine, "connect", _sqlite_pragmas)
            elif real.startswith("postgresql+psycopg"):
                self.engine = create_engine(real, pool_pre_ping=True, pool_size=10, max_overflow=20)
            else:
                raise ConfigError(
                    f"unsupported hosted store {redact_url(url)!r}: use sqlite:///, postgresql:// or redis://"
                )
        except (ImportError, SQLAlchemyError, ValueError) as exc:
            raise ConfigError(f"cannot open the hosted store {redact_url(url)!r}: {type(exc).__name__}") from None

    def _run(self, action: Any) -> Any:
        """Run ``action(conn)`` in one transaction; database trouble becomes a StorageError."""
        try:
            with self.engine.begin() as conn:
                return action(conn)
        except SQLAlchemyError as exc:
            # the driver's message may quote SQL parameters (ciphertexts, hashes): name the class only
            raise StorageError(f"the hosted store {redact_url(self.url)} failed: {type(exc).__name__}") from None

    def migrate(self) -> None:
        try:
            schema.migrate(self.engine)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot migrate {redact_url(self.url)}: {type(exc).__name__}") from None

    def schema_version(self) -> int:
        return int(self._run(schema.read_version))

    # -- login attempts -------------------------------------------------------------------
    def put_attempt(self, attempt: LoginAttempt) -> None:
        t = schema.attempts
        values = {f: getattr(attempt, f) for f in _ATTEMPT_FIELDS}

        def act(conn: Any) -> None:
            conn.execute(delete(t).where(t.c.browser_hash == attempt.browser_hash))
            conn.execute(delete(t).where(t.c.expires_at <= attempt.expires_at - ATTEMPT_TTL))  # stale ones
            conn.execute(insert(t).values(**values))

        self._run(act)

    def take_attempt(self, browser_hash: str, now: float) -> LoginAttempt | None:
        t = schema.attempts
        stmt = delete(t).where(t.c.browser_hash == browser_hash).returning(*t.columns)
        row = self._run(lambda conn: conn.execute(stmt).mappings().first())
        if row is None or row["expires_at"] <= now:
            return None
        return LoginAttempt(**dict(row))

    # -- sessions --------------------------------------------------------------------------
    def create_session(self, row: SessionRow) -> None:
        values = {f: getattr(row, f) for f in _SESSION_FIELDS}
        self._run(lambda conn: conn.execute(insert(schema.sessions).values(**values)))

    def get_session(self, id_hash: str) -> SessionRow | None:
        t = schema.sessions
        row = self._run(lambda conn: conn.execute(select(t).where(t.c.id_hash == id_hash)).mappings().first())
        return None if row is None else SessionRow(**dict(row))

    def _update(self, where: list[Any], **values: Any) -> bool:
        t = schema.sessions
        stmt = update(t).where(*where).values(**values)
        return bool(self._run(lambda conn: conn.execute(stmt).rowcount) == 1)

    def try_lease(self, id_hash: str, generation: int, owner: str, until: float, now: float) -> bool:
        c = schema.sessions.c
        return self._update(
            [c.id_hash == id_hash, c.generation == generation, c.revoked_at.is_(None), c.lease_until <= now],
            lease_owner=owner,
            lease_until=until,
        )

    def complete_refresh(
        self, id_hash: str, generation: int, owner: str, *, kid: str, ciphertext: str, expires_at: float
    ) -> bool:
        c = schema.sessions.c
        return self._update(
            [c.id_hash == id_hash, c.generation == generation, c.lease_owner == owner, c.revoked_at.is_(None)],
            kid=kid,
            ciphertext=ciphertext,
            expires_at=expires_at,
            generation=generation + 1,
            lease_owner="",
            lease_until=0.0,
        )

    def release_lease(self, id_hash: str, generation: int, owner: str) -> None:
        c = schema.sessions.c
        self._update([c.id_hash == id_hash, c.generation == generation, c.lease_owner == owner], lease_until=0.0)

    def revoke_session(self, id_hash: str, now: float, *, held: tuple[int, str] | None = None) -> bool:
        c = schema.sessions.c
        where = [c.id_hash == id_hash, c.revoked_at.is_(None)]
        if held is not None:
            where += [c.generation == held[0], c.lease_owner == held[1]]
        return self._update(
            where,
            revoked_at=now,
            ciphertext="",
            generation=c.generation + 1,
            lease_owner="",
            lease_until=0.0,
        )

    def delete_session(self, id_hash: str) -> None:
        t = schema.sessions
        self._run(lambda conn: conn.execute(delete(t).where(t.c.id_hash == id_hash)))

    def sessions_of(self, tenant: str, subject: str) -> list[SessionRow]:
        t = schema.sessions
        stmt = select(t).where(t.c.tenant == tenant, t.c.subject == subject)
        rows = self._run(lambda conn: conn.execute(stmt).mappings().all())
        return [SessionRow(**dict(r)) for r in rows]

    def iter_sessions(self) -> Iterator[SessionRow]:
        t = schema.sessions
        rows = self._run(lambda conn: conn.execute(select(t).order_by(t.c.id_hash)).mappings().all())
        for r in rows:
            yield SessionRow(**dict(r))

    def rewrap(self, id_hash: str, generation: int, old_kid: str, *, kid: str, ciphertext: str) -> bool:
        c = schema.sessions.c
        return self._update(
            [c.id_hash == id_hash, c.generation == generation, c.kid == old_kid], kid=kid, ciphertext=ciphertext
        )

    def purge(self, now: float) -> int:
        a, s = schema.attempts, schema.sessions

        def act(conn: Any) -> int:
            gone = conn.execute(delete(a).where(a.c.expires_at <= now)).rowcount
            dead = or_(s.c.absolute_expiry <= now, s.c.revoked_at.is_not(None))
            return int(gone + conn.execute(delete(s).where(dead)).rowcount)

        return int(self._run(act))

    def close(self) -> None:
        self.engine.dispose()
