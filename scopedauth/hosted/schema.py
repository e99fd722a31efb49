"""The hosted schema as SQLAlchemy Core tables, and its migrations.

One schema for every SQL store. ``scopedauth_schema`` holds the version; :func:`migrate` runs
each step above it in one transaction, so replicas that start together and all migrate end
with the same schema (``CREATE TABLE IF NOT EXISTS``, and the version row written once).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine

from .model import SCHEMA_VERSION

__all__ = ["attempts", "metadata", "migrate", "read_version", "sessions", "versions"]

metadata = MetaData()

versions = Table("scopedauth_schema", metadata, Column("version", Integer, primary_key=True))

attempts = Table(
    "scopedauth_login_attempts",
    metadata,
    Column("browser_hash", String(64), primary_key=True),
    Column("tenant", String(255), nullable=False),
    Column("state_hash", String(64), nullable=False),
    Column("kid", String(64), nullable=False),
    Column("ciphertext", Text, nullable=False),
    Column("return_to", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

sessions = Table(
    "scopedauth_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("tenant", String(255), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("kid", String(64), nullable=False),
    Column("ciphertext", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("absolute_expiry", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("generation", Integer, nullable=False, default=0),
    Column("lease_owner", String(64), nullable=False, default=""),
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("revoked_at", Float, nullable=True),
    Index("ix_scopedauth_sessions_user", "tenant", "subject"),
)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[attempts, sessions], checkfirst=True)


#: version -> the step that brings the schema from version-1 to it
STEPS: dict[int, Any] = {1: _v1}
if max(STEPS) != SCHEMA_VERSION:  # pragma: no cover - a step was forgotten
    raise RuntimeError("schema steps and SCHEMA_VERSION disagree")


def read_version(conn: Connection) -> int:
    from sqlalchemy import inspect

    if not inspect(conn).has_table(versions.name):
        return 0
    return int(conn.execute(select(versions.c.version).order_by(versions.c.version.desc())).scalar() or 0)


def migrate(engine: Engine, attempts: int = 10) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`; a no-op when it is there already.

    Replicas starting together may all migrate at once. PostgreSQL serializes them with an
    advisory lock; SQLite runs DDL outside transactions, so a replica that loses the race (a
    table "already exists", the version row is a duplicate) waits a moment and tries again,
    which finds the work done.
    """
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for attempt in range(attempts):
        try:
            _migrate_once(engine)
            return
        except (IntegrityError, ProgrammingError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _migrate_once(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7305301)"))
        versions.create(conn, checkfirst=True)
        current = read_version(conn)
        for version in range(current + 1, SCHEMA_VERSION + 1):
            STEPS[version](conn)
            conn.execute(versions.insert().values(version=version))
