"""What ``scopedauth status`` shows, as data and as lines (never a token)."""

from __future__ import annotations

from typing import Any

from ..config import Target
from ..grants.manage import StatusEntry
from ..text import shown
from ..tokens import format_time, utcnow

__all__ = ["state_of", "status_json", "status_lines"]


def state_of(entry: StatusEntry) -> str:
    """``valid``; ``refreshable`` (expired, but a refresh token or a re-mint source exists);
    ``needs-login``; ``unreadable``."""
    tok = entry.token
    if entry.error is not None or tok is None:
        return "unreadable" if entry.error else "missing"
    if tok.needs_login:
        return "needs-login"
    if tok.is_valid():
        return "valid"
    return "refreshable" if tok.renewable else "needs-login"


def _expires_in(entry: StatusEntry) -> int | None:
    left = entry.token.remaining(utcnow()) if entry.token else None
    return int(left.total_seconds()) if left is not None else None


def status_json(entries: list[StatusEntry], served: Target | None = None, asked: bool = False) -> list[dict[str, Any]]:
    """One object per stored grant; ``serves`` says whether it serves the request named by the
    command's target options (null when none were given)."""
    out = []
    for e in entries:
        tok = e.token
        out.append(
            {
                "host": e.target.host,
                "account_id": e.target.account_id,
                "client_id": e.target.client_id,
                "scopes": list(e.target.scopes),
                "granted_scopes": list(tok.granted_scopes) if tok else None,
                "expiry": format_time(tok.expiry) if tok and tok.expiry else None,
                "expires_in": _expires_in(e),
                "refreshable": bool(tok and tok.renewable),
                "state": state_of(e),
                "backend": e.backend,
                "error": e.error,
                "serves": (e.target == served) if asked else None,
            }
        )
    return out


def _human(seconds: int | None) -> str:
    if seconds is None:
        return "no expiry"
    if seconds <= 0:
        return "expired"
    if seconds < 120:
        return f"{seconds}s"
    return f"{seconds // 60}m" if seconds < 7200 else f"{seconds // 3600}h"


def status_lines(entries: list[StatusEntry], served: Target | None = None) -> list[str]:
    """One line per entry; every field read from the store is shown through :func:`shown`."""
    lines = []
    for e in entries:
        t = e.target
        where = shown(t.host) + (f" account={shown(t.account_id)}" if t.account_id else "")
        lines.append(
            f"{where}  client={shown(t.client_id)}  scopes={shown(' '.join(t.scopes)) or '-'}  "
            f"expires={_human(_expires_in(e))}  state={state_of(e)}  backend={shown(e.backend)}"
            + (f"  error={shown(e.error)}" if e.error else "")
            + ("  <- serves this request" if served is not None and e.target == served else "")
        )
    return lines
