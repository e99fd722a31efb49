"""The stored token record: JSON v1, expiry arithmetic, and a repr that never leaks.

One record per :class:`~scopedauth.config.Target`. The JSON is documented in docs/storage.md so other
programs can read the keyring entry; ``version`` lets a future format coexist with this one.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from .config import OFFLINE_ACCESS, Target, parse_scopes
from .errors import ConfigError, StorageError
from .records import Record

__all__ = [
    "CLIENT_CREDENTIALS",
    "EXPIRED_LEEWAY",
    "FORMAT_VERSION",
    "REFRESH_AHEAD",
    "TOKEN_EXCHANGE",
    "Grant",
    "Token",
    "format_time",
    "parse_time",
    "utcnow",
]

FORMAT_VERSION = 1
#: under this much life left a token counts as expired (Azure refuses tokens with ≤ 30 s left)
EXPIRED_LEEWAY = timedelta(seconds=40)
#: refresh ahead when less than min(this, half the lifetime) remains
REFRESH_AHEAD = timedelta(minutes=5)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, second precision (what Go's time parser and jq expect).

    A naive value is taken as UTC, as :func:`parse_time` does (not as local time).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse RFC 3339 (``Z`` or an offset) into an aware UTC datetime; naive values are taken as UTC.

    Raises :class:`ValueError` for anything else, including moments that do not exist in UTC
    (year 1 with a positive offset, year 9999 with a negative one).
    """
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError as exc:
        raise ValueError("time out of range") from exc


CLIENT_CREDENTIALS = "client_credentials"
TOKEN_EXCHANGE = "token_exchange"
_GRANT_TEXT_FIELDS = (
    "client_secret_env",
    "client_secret_profile",
    "subject_token_env",
    "subject_token_file",
    "subject_token_type",
)


class Grant(Record):
    """How a record without a refresh token can be minted again with nobody at the keyboard.

    Service principals (``client_credentials``) and federated tokens (``token_exchange``) get
    no refresh token; the ladder mints a new access token from the same source instead. Only
    *where* the credential lives is recorded (an environment variable's name, a profile's name,
    a file's path, or that the secret sits in the store under its own key), never the
    credential: a stored record must not be a second copy of a client secret or of another
    identity provider's token. JSON field ``grant``, absent for user logins (v1 records from
    before it load unchanged).
    """

    __slots__ = (
        "client_secret_env",
        "client_secret_profile",
        "client_secret_stored",
        "subject_token_env",
        "subject_token_file",
        "subject_token_type",
        "type",
    )
    type: str
    client_secret_env: str | None
    client_secret_profile: str | None
    client_secret_stored: bool
    subject_token_env: str | None
    subject_token_file: str | None
    subject_token_type: str | None

    def __init__(
        self,
        type: str,
        client_secret_env: str | None = None,
        client_secret_profile: str | None = None,
        client_secret_stored: bool = False,
        subject_token_env: str | None = None,
        subject_token_file: str | None = None,
        subject_token_type: str | None = None,
    ) -> None:
        self._init(
            type=type,
            client_secret_env=client_secret_env,
            client_secret_profile=client_secret_profile,
            client_secret_stored=client_secret_stored,
            subject_token_env=subject_token_env,
            subject_token_file=subject_token_file,
            subject_token_type=subject_token_type,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name in _GRANT_TEXT_FIELDS:
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.client_secret_stored:
            out["client_secret_stored"] = True
        return out

    @classmethod
    def from_dict(cls, data: object) -> Grant:
        if not isinstance(data, dict):
            raise _CorruptFieldError("grant", "is not an object")
        stored = data.get("client_secret_stored", False)
        if not isinstance(stored, bool):
            raise _CorruptFieldError("grant.client_secret_stored", "is not true or false")
        return cls(
            type=_str(data, "type"),
            client_secret_stored=stored,
            **{name: _opt_str(data, name) for name in _GRANT_TEXT_FIELDS},
        )


class Token(Record):
    """An access token, maybe a refresh token, and everything needed to refresh it.

    ``needs_login`` marks a grant whose refresh token the server declared dead: the record stays
    (so ``status`` can say so and nothing the user had vanishes) but is never served.
    """

    __slots__ = (
        "access_token",
        "expiry",
        "grant",
        "granted_scopes",
        "needs_login",
        "obtained_at",
        "refresh_token",
        "target",
        "token_endpoint",
        "token_type",
    )
    target: Target
    access_token: str
    token_type: str
    expiry: datetime | None
    refresh_token: str | None
    granted_scopes: tuple[str, ...]
    token_endpoint: str
    obtained_at: datetime
    needs_login: bool
    grant: Grant | None

    def __init__(
        self,
        target: Target,
        access_token: str,
        token_type: str = "Bearer",  # noqa: S107 - the OAuth token type, not a secret
        expiry: datetime | None = None,
        refresh_token: str | None = None,
        granted_scopes: tuple[str, ...] = (),
        token_endpoint: str = "",
        obtained_at: datetime | None = None,
        needs_login: bool = False,
        grant: Grant | None = None,
    ) -> None:
        self._init(
            target=target,
            access_token=access_token,
            token_type=token_type,
            expiry=expiry,
            refresh_token=refresh_token,
            granted_scopes=granted_scopes,
            token_endpoint=token_endpoint,
            obtained_at=utcnow() if obtained_at is None else obtained_at,
            needs_login=needs_login,
            grant=grant,
        )

    # -- time ---------------------------------------------------------------------------------

    def remaining(self, now: datetime | None = None) -> timedelta | None:
        """Time left, or None when the server gave no expiry."""
        if self.expiry is None:
            return None
        return self.expiry - (now or utcnow())

    def is_valid(self, now: datetime | None = None) -> bool:
        """Usable right now: not marked dead and more than the leeway left."""
        if self.needs_login or not self.access_token:
            return False
        left = self.remaining(now)
        return left is None or left > EXPIRED_LEEWAY

    def wants_refresh(self, now: datetime | None = None) -> bool:
        """Inside the refresh-ahead window: less than min(5 min, half the lifetime) left."""
        left = self.remaining(now)
        if left is None or self.expiry is None:
            return False
        lifetime = self.expiry - self.obtained_at
        ahead = min(REFRESH_AHEAD, max(lifetime / 2, EXPIRED_LEEWAY))
        return left < ahead

    @property
    def refreshable(self) -> bool:
        return bool(self.refresh_token) and not self.needs_login

    @property
    def renewable(self) -> bool:
        """A new access token can come without a person: a refresh token, or a re-mint source."""
        return self.refreshable or (self.grant is not None and not self.needs_login)

    @property
    def missing_scopes(self) -> tuple[str, ...]:
        """Requested scopes the server did not grant (empty when it did not say).

        ``offline_access`` is never missing from a client-credentials or token-exchange grant:
        it is not sent for them (they get no refresh token), only kept in the target's key.
        """
        if not self.granted_scopes:
            return ()
        wanted = (s for s in self.target.scopes if not (self.grant is not None and s == OFFLINE_ACCESS))
        return tuple(s for s in wanted if s not in self.granted_scopes)

    # -- serialisation ------------------------------------------------------------------------

    def to_json(self) -> str:
        t = self.target
        record: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "host": t.host,
            "account_id": t.account_id,
            "client_id": t.client_id,
            "scopes": list(t.scopes),
            "granted_scopes": list(self.granted_scopes),
            "token_type": self.token_type,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expiry": format_time(self.expiry) if self.expiry else None,
            "obtained_at": format_time(self.obtained_at),
            "token_endpoint": self.token_endpoint,
        }
        if self.needs_login:
            record["needs_login"] = True
        if self.grant is not None:
            record["grant"] = self.grant.to_dict()
        return json.dumps(record, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, where: str = "the token store") -> Token:
        """Decode a v1 record; anything else is a :class:`StorageError`, never a crash."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:
            raise StorageError(f"the record in {where} is not JSON; it was left untouched") from exc
        if not isinstance(data, dict):
            raise StorageError(f"the record in {where} is not a scopedauth record; it was left untouched")
        version = data.get("version")
        if type(version) is not int or version != FORMAT_VERSION:  # not True, not 1.0
            # only an integer is echoed: any other value could be a token in the wrong place
            shown = version if type(version) is int else f"<{type(version).__name__}>"
            raise StorageError(
                f"the record in {where} has format version {shown}, this scopedauth reads "
                f"{FORMAT_VERSION}; it was left untouched (upgrade scopedauth or log in again)"
            )
        try:
            target = _target(data)
            needs_login = data.get("needs_login", False)
            if not isinstance(needs_login, bool):
                raise _CorruptFieldError("needs_login", "is not true or false")
            return cls(
                target=target,
                access_token=_str(data, "access_token"),
                token_type=_str(data, "token_type") or "Bearer",
                expiry=_opt_time(data, "expiry"),
                refresh_token=_opt_str(data, "refresh_token"),
                granted_scopes=_scopes(data, "granted_scopes"),
                token_endpoint=_opt_str(data, "token_endpoint") or "",
                obtained_at=_opt_time(data, "obtained_at") or utcnow(),
                needs_login=needs_login,
                grant=Grant.from_dict(data["grant"]) if data.get("grant") is not None else None,
            )
        except _CorruptFieldError as exc:
            # the message names the field only, never its value: a swapped or truncated record
            # may hold a token in any field
            raise StorageError(f"the record in {where} is corrupt ({exc}); it was left untouched") from None

    def to_cli_json(self) -> dict[str, str | None]:
        """The shape of ``databricks auth token`` output."""
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expiry": format_time(self.expiry) if self.expiry else None,
        }

    def __repr__(self) -> str:
        left = self.remaining()
        life = "no expiry" if left is None else f"expires in {int(left.total_seconds())}s"
        return (
            f"Token(target={self._redact(self.target.key)!r}, token_type={self._redact(self.token_type)!r}, "
            f"access_token=<redacted>, refresh_token={'<redacted>' if self.refresh_token else None}, {life}"
            f"{', needs_login' if self.needs_login else ''})"
        )

    def _redact(self, text: str) -> str:
        """``text`` with either token cut out (a swapped or hand-edited record may hold one anywhere)."""
        for secret in (self.access_token, self.refresh_token):
            if secret:
                text = text.replace(secret, "<redacted>")
        return text

    __str__ = __repr__


class _CorruptFieldError(Exception):
    """A field of a stored record is missing or malformed; the message names the field only."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"field {name!r} {problem}")


def _str(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise _CorruptFieldError(name, "is missing or not a string")
    return value


def _opt_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _CorruptFieldError(name, "is not a string")
    return value


def _target(data: dict[str, Any]) -> Target:
    host, client_id, scopes = _str(data, "host"), _str(data, "client_id"), _scopes(data, "scopes")
    try:
        return Target(host=host, client_id=client_id, scopes=scopes, account_id=_opt_str(data, "account_id"))
    except ConfigError:
        raise _CorruptFieldError("scopes", "holds a scope that cannot be part of a store key") from None


def _opt_time(data: dict[str, Any], name: str) -> datetime | None:
    text = _opt_str(data, name)
    if not text:
        return None
    try:
        return parse_time(text)
    except (ValueError, OverflowError):
        raise _CorruptFieldError(name, "is not an RFC 3339 time") from None


def _scopes(data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _CorruptFieldError(name, "is not a list of strings")
    try:
        return parse_scopes(value)
    except ConfigError:
        raise _CorruptFieldError(name, "holds a string that is not an OAuth scope") from None
