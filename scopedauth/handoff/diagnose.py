"""(pure) Why did a call fail? A diagnosis for 401, 403 and 404 from the facts at hand.

``scopedauth call`` prints these lines on stderr after an error status. The facts are what the
caller already knows without another request: the URL, the status and body, the workspace the
token is for, the scopes granted, the token's expiry, and whether a refresh-and-retry happened.
Each line is a statement or the next command to run; nothing here guesses silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from ..config import OFFLINE_ACCESS, Target, parse_scopes
from ..errors import ConfigError
from ..text import shown
from ..tokens import CLIENT_CREDENTIALS, Grant

__all__ = [
    "APP_DOMAIN",
    "CallFacts",
    "again_command",
    "app_name",
    "diagnose",
    "fix_command",
    "is_app_host",
    "missing_scopes",
]

#: Databricks Apps are served from ``<name>-<workspace id>.<region…>.databricksapps.com``
APP_DOMAIN = "databricksapps.com"

_MISSING = re.compile(r"Provided OAuth token does not have required scopes:\s*([^\r\n\"]+)")
_APP_HOST = re.compile(r"^(?P<name>[a-z0-9-]+?)-(?P<workspace>\d+)\.(?:[a-z0-9-]+\.)*" + re.escape(APP_DOMAIN) + "$")
_NOT_RUNNING = ("app not available", "app is not available", "is not running", "app is stopped", "has been stopped")


@dataclass(frozen=True)
class CallFacts:
    """What ``call`` knows after the response; no secrets (the token itself is not here)."""

    url: str
    status: int
    body: str
    target: Target
    granted_scopes: tuple[str, ...]
    expiry: datetime | None
    retried: bool
    now: datetime
    #: where a service-principal or federated record gets its credential (never the credential)
    grant: Grant | None = None


def missing_scopes(body: str) -> tuple[str, ...]:
    """Scopes named in Databricks' "Provided OAuth token does not have required scopes: X"."""
    match = _MISSING.search(body)
    if match is None:
        return ()
    try:
        return parse_scopes(match.group(1).strip().rstrip(".}'"))
    except ConfigError:
        return ()


def is_app_host(hostname: str | None) -> bool:
    """Whether ``hostname`` is under the Databricks Apps domain (``….databricksapps.com``)."""
    return (hostname or "").lower().endswith("." + APP_DOMAIN)


def app_name(url: str) -> str | None:
    """``my-app`` for ``https://my-app-1234567890.aws.databricksapps.com/...``, else None."""
    match = _APP_HOST.match(urlsplit(url).hostname or "")
    return match["name"] if match else None


def again_command(target: Target, grant: Grant | None) -> str:
    """The command that creates this grant again: a user login, a service principal's login, or
    the token exchange; with ``--profile`` when the target came from one."""
    if grant is None:
        return target.login_command()
    from ..grants import federation, m2m  # their command builders; imported here to keep this module pure

    if grant.type == CLIENT_CREDENTIALS:
        return m2m.login_command(target, grant)
    return federation.exchange_command(target, grant)


def fix_command(target: Target, granted: tuple[str, ...], missing: tuple[str, ...], grant: Grant | None = None) -> str:
    """The same grant (host, client, kind, profile) asking for granted ∪ missing."""
    wanted = set(granted or target.scopes) | set(missing)
    wanted.discard(OFFLINE_ACCESS)
    if target.refreshable:
        wanted.add(OFFLINE_ACCESS)
    return again_command(Target(target.host, target.client_id, tuple(wanted), target.account_id, target.profile), grant)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _server_message(body: str) -> str:
    """What the server said, as one line shown through :func:`scopedauth.text.shown` (300 at most)."""
    try:
        data = json.loads(body)
    except ValueError:
        return shown(" ".join(body.split()), 300)
    if isinstance(data, dict):
        for key in ("message", "error_description", "detail", "error"):
            if isinstance(data.get(key), str):
                return shown(data[key], 300)
    return ""


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min" if seconds >= 60 else f"{int(seconds)} s"


def _diagnose_401(f: CallFacts, is_app: bool) -> list[str]:
    lines = ["401 Unauthorized: the server did not accept the token."]
    left = (f.expiry - f.now).total_seconds() if f.expiry else None
    if left is not None and left <= 0:
        lines.append(f"The token had expired ({_minutes(-left)} ago); a refresh did not produce one it accepts.")
    elif left is not None:
        lines.append(f"The token had not expired ({_minutes(left)} left): the server refused it.")
    if f.retried:
        lines.append("scopedauth refreshed the token once and retried; the new token was refused too.")
    if is_app:
        lines.append(
            f"The app must belong to the workspace the token is for ({f.target.host}); if not, pass its --host."
        )
    lines.append(f"If it was revoked (a logout elsewhere), sign in again: {again_command(f.target, f.grant)}")
    return lines


def _diagnose_403(f: CallFacts, is_app: bool) -> list[str]:
    missing = missing_scopes(f.body)
    granted = tuple(s for s in f.granted_scopes if s != OFFLINE_ACCESS)
    lines = ["403 Forbidden."]
    lines.append(f"Granted scopes: {' '.join(granted) or '(not stated by the server)'}")
    if missing:
        lines.append(f"Missing scopes (the server says): {' '.join(missing)}")
        lines.append(f"Fix: {fix_command(f.target, f.granted_scopes, missing, f.grant)}")
        return lines
    if is_app:
        name = app_name(f.url)
        where = f"Apps > {name} > Permissions" if name else "the app's Permissions"
        lines.append(f"No scope is named as missing: you probably lack CAN USE on the app (ask its owner: {where}).")
    else:
        lines.append("Your user lacks permission for this API, or the token's scopes do not cover it (all-apis does).")
    return lines


def _diagnose_404(f: CallFacts, is_app: bool) -> list[str]:
    path = urlsplit(f.url).path or "/"
    if not is_app:
        return [f"404 Not Found: {f.target.host} has no API at {path}; check the path (e.g. /api/2.0/...)."]
    name = app_name(f.url)
    lines = [f"404 Not Found at app URL {_origin(f.url)}" + (f" (app {name})." if name else ".")]
    lowered = f.body.lower()
    check = f"databricks apps get {name}" if name else "the Apps page of the workspace"
    if any(marker in lowered for marker in _NOT_RUNNING):
        lines.append(f"The app is not deployed or not running: start or deploy it (see {check}).")
    elif _is_json(f.body):
        lines.append("The answer came from the app itself, so it is deployed and running: the path is wrong.")
    else:
        lines.append(f"Could not tell whether the app is deployed and running: check {check}.")
    if path.startswith("/api/"):
        lines.append(f"{path} is an /api/ route: the app does not define it (check the route and its method).")
    else:
        lines.append(f"{path} is not under /api/: only an app's /api/ routes accept bearer tokens from scripts.")
    return lines


def _is_json(body: str) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def diagnose(f: CallFacts) -> list[str]:
    """Lines for a person (stderr); empty for statuses without a diagnosis."""
    is_app = _origin(f.url) != f.target.host.lower()
    if f.status == 401:
        lines = _diagnose_401(f, is_app)
    elif f.status == 403:
        lines = _diagnose_403(f, is_app)
    elif f.status == 404:
        lines = _diagnose_404(f, is_app)
    else:
        return []
    message = _server_message(f.body)
    if message and not (f.status == 403 and missing_scopes(f.body)):  # else the next lines say it
        lines.insert(1, f"Server said: {message}")
    return lines
