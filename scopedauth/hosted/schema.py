"""The hosted schema as SQLAlchemy Core tables, and its migrations.

One schema for every SQL store. ``scopedauth_schema`` holds the version; :func:`migrate` runs
each step above it in one transaction, so replicas that start together and all migrate end
with the same schema (``CREATE TABLE IF NOT EXISTS``, and the version row written once).
"""

from __future__ import annotations

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


def migrate(engine: Engine) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`; a no-op when it is there already."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    try:
        with engine.begin() as conn:
            versions.create(conn, checkfirst=True)
    except (IntegrityError, ProgrammingError, OperationalError):
        pass  # another replica created it at the same moment
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # replicas starting together migrate one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(7305301)"))
            current = read_version(conn)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                STEPS[version](conn)
                conn.execute(versions.insert().values(version=version))
    except (IntegrityError, ProgrammingError, OperationalError):
        with engine.connect() as conn:  # lost a race with another replica: fine if it finished the job
            if read_version(conn) < SCHEMA_VERSION:
                raise
