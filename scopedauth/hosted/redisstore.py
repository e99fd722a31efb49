"""The Redis store (redis-py): one hash per session, compare-and-set in Lua scripts.

Redis runs each script atomically, so a lease or a write-back is decided in one step on the
server, like the SQL stores' ``UPDATE … WHERE``. Session keys expire at the session's absolute
lifetime and login attempts after ten minutes, by Redis itself. Keys (prefix ``scopedauth:``):
``s:<id hash>`` a session, ``a:<browser hash>`` a login attempt, ``u:<tenant> <subject>`` the
set of a user's session hashes, ``schema`` the schema version. Needs Redis 6.2 or later (GETDEL).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, fields
from typing import Any

from ..errors import ConfigError, StorageError
from .model import SCHEMA_VERSION, HostedStore, LoginAttempt, SessionRow, redact_url

__all__ = ["RedisStore"]

PREFIX = "scopedauth:"
_INT_FIELDS = {"generation"}
_FLOAT_FIELDS = {"expires_at", "absolute_expiry", "created_at", "lease_until"}

_TRY_LEASE = """
local r = redis.call('HMGET', KEYS[1], 'generation', 'revoked_at', 'lease_until')
if not r[1] or r[1] ~= ARGV[1] or r[2] ~= '' or tonumber(r[3]) > tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], 'lease_owner', ARGV[2], 'lease_until', ARGV[3])
return 1
"""
_COMPLETE = """
local r = redis.call('HMGET', KEYS[1], 'generation', 'lease_owner', 'revoked_at')
if not r[1] or r[1] ~= ARGV[1] or r[2] ~= ARGV[2] or r[3] ~= '' then return 0 end
redis.call('HSET', KEYS[1], 'kid', ARGV[3], 'ciphertext', ARGV[4], 'expires_at', ARGV[5],
           'generation', tostring(tonumber(ARGV[1]) + 1), 'lease_owner', '', 'lease_until', '0')
return 1
"""
_RELEASE = """
local r = redis.call('HMGET', KEYS[1], 'generation', 'lease_owner')
if r[1] == ARGV[1] and r[2] == ARGV[2] then redis.call('HSET', KEYS[1], 'lease_until', '0') end
return 0
"""
_REVOKE = """
local r = redis.call('HMGET', KEYS[1], 'generation', 'revoked_at', 'lease_owner')
if not r[1] or r[2] ~= '' then return 0 end
if ARGV[2] ~= '' and (r[1] ~= ARGV[2] or r[3] ~= ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1], 'ciphertext', '', 'lease_owner', '', 'lease_until', '0',
           'generation', tostring(tonumber(r[1]) + 1))
return 1
"""
_REWRAP = """
local r = redis.call('HMGET', KEYS[1], 'generation', 'kid')
if r[1] ~= ARGV[1] or r[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'kid', ARGV[3], 'ciphertext', ARGV[4])
return 1
"""


def _encode(row: SessionRow) -> dict[str, str]:
    """Every field as text: ``repr`` keeps floats exact, None (not revoked) is the empty string."""
    return {k: "" if v is None else repr(v) if isinstance(v, float) else str(v) for k, v in asdict(row).items()}


def _decode(data: dict[str, str]) -> SessionRow:
    values: dict[str, Any] = {}
    for f in fields(SessionRow):
        raw = data.get(f.name, "")
        if f.name in _INT_FIELDS:
            values[f.name] = int(raw)
        elif f.name in _FLOAT_FIELDS:
            values[f.name] = float(raw)
        elif f.name == "revoked_at":
            values[f.name] = float(raw) if raw else None
        else:
            values[f.name] = raw
    return SessionRow(**values)


class RedisStore(HostedStore):
    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        try:
            self.redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=10, health_check_interval=30)
        except ValueError as exc:
            raise ConfigError(f"cannot open the hosted store {redact_url(url)!r}: {exc}") from None
        self._scripts = {
            name: self.redis.register_script(body)
            for name, body in (
                ("lease", _TRY_LEASE),
                ("complete", _COMPLETE),
                ("release", _RELEASE),
                ("revoke", _REVOKE),
                ("rewrap", _REWRAP),
            )
        }

    def _call(self, action: Any) -> Any:
        import redis

        try:
            return action()
        except redis.RedisError as exc:
            raise StorageError(f"the hosted store {redact_url(self.url)} failed: {type(exc).__name__}") from None

    def _script(self, name: str, key: str, *args: Any) -> bool:
        return bool(self._call(lambda: self._scripts[name](keys=[key], args=list(args))))

    @staticmethod
    def _skey(id_hash: str) -> str:
        return f"{PREFIX}s:{id_hash}"

    @staticmethod
    def _ukey(tenant: str, subject: str) -> str:
        return f"{PREFIX}u:{tenant} {subject}"

    def migrate(self) -> None:
        self._call(lambda: self.redis.set(PREFIX + "schema", SCHEMA_VERSION))

    def schema_version(self) -> int:
        return int(self._call(lambda: self.redis.get(PREFIX + "schema")) or 0)

    # -- login attempts -------------------------------------------------------------------
    def put_attempt(self, attempt: LoginAttempt) -> None:
        key = f"{PREFIX}a:{attempt.browser_hash}"
        body = json.dumps(asdict(attempt))
        self._call(lambda: self.redis.set(key, body, pxat=math.ceil(attempt.expires_at * 1000)))

    def take_attempt(self, browser_hash: str, now: float) -> LoginAttempt | None:
        raw = self._call(lambda: self.redis.getdel(f"{PREFIX}a:{browser_hash}"))
        if raw is None:
            return None
        attempt = LoginAttempt(**json.loads(raw))
        return attempt if attempt.expires_at > now else None

    # -- sessions --------------------------------------------------------------------------
    def create_session(self, row: SessionRow) -> None:
        key, ukey = self._skey(row.id_hash), self._ukey(row.tenant, row.subject)
        expire_ms = math.ceil(row.absolute_expiry * 1000)

        def act() -> None:
            pipe = self.redis.pipeline(transaction=True)
            mapping: Any = _encode(row)  # redis-py's Mapping type is invariant in its keys
            pipe.hset(key, mapping=mapping)
            pipe.pexpireat(key, expire_ms)
            pipe.sadd(ukey, row.id_hash)
            pipe.pexpireat(ukey, expire_ms)  # one lifetime per app: the newest session ends last
            pipe.execute()

        self._call(act)

    def get_session(self, id_hash: str) -> SessionRow | None:
        data = self._call(lambda: self.redis.hgetall(self._skey(id_hash)))
        return _decode(data) if data else None

    def try_lease(self, id_hash: str, generation: int, owner: str, until: float, now: float) -> bool:
        return self._script("lease", self._skey(id_hash), generation, owner, repr(until), repr(now))

    def complete_refresh(
        self, id_hash: str, generation: int, owner: str, *, kid: str, ciphertext: str, expires_at: float
    ) -> bool:
        return self._script("complete", self._skey(id_hash), generation, owner, kid, ciphertext, repr(expires_at))

    def release_lease(self, id_hash: str, generation: int, owner: str) -> None:
        self._script("release", self._skey(id_hash), generation, owner)

    def revoke_session(self, id_hash: str, now: float, *, held: tuple[int, str] | None = None) -> bool:
        generation, owner = ("", "") if held is None else (str(held[0]), held[1])
        return self._script("revoke", self._skey(id_hash), repr(now), generation, owner)

    def delete_session(self, id_hash: str) -> None:
        row = self.get_session(id_hash)
        if row is None:
            return

        def act() -> None:
            pipe = self.redis.pipeline(transaction=True)
            pipe.delete(self._skey(id_hash))
            pipe.srem(self._ukey(row.tenant, row.subject), id_hash)
            pipe.execute()

        self._call(act)

    def sessions_of(self, tenant: str, subject: str) -> list[SessionRow]:
        hashes = self._call(lambda: self.redis.smembers(self._ukey(tenant, subject)))
        rows = [self.get_session(h) for h in sorted(hashes)]
        return [r for r in rows if r is not None]

    def iter_sessions(self) -> Iterator[SessionRow]:
        keys = self._call(lambda: sorted(self.redis.scan_iter(match=PREFIX + "s:*", count=500)))
        for key in keys:
            row = self.get_session(key[len(PREFIX) + 2 :])
            if row is not None:
                yield row

    def rewrap(self, id_hash: str, generation: int, old_kid: str, *, kid: str, ciphertext: str) -> bool:
        return self._script("rewrap", self._skey(id_hash), generation, old_kid, kid, ciphertext)

    def purge(self, now: float) -> int:
        """Redis expires attempts and sessions by itself; only revoked sessions are left to delete."""
        dead = [r for r in self.iter_sessions() if r.revoked_at is not None or r.absolute_expiry <= now]
        for row in dead:
            self.delete_session(row.id_hash)
        return len(dead)

    def close(self) -> None:
        self.redis.close()
