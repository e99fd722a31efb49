"""Where to send the user and the code: OAuth endpoint discovery for a target.

Workspaces publish RFC 8414 metadata at ``{host}/oidc/.well-known/oauth-authorization-server``;
newer hosts also publish ``{host}/.well-known/databricks-config`` whose ``oidc_endpoint`` names
the OIDC base. Account consoles live under ``/oidc/accounts/{id}/``. Every endpoint must be
HTTPS unless its host is loopback, whatever the metadata says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..config import Target, is_loopback_host
from ..errors import ConfigError, NetworkError
from . import transport

__all__ = ["Endpoints", "check_secure", "discover"]


@dataclass(frozen=True)
class Endpoints:
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None = None
    issuer: str | None = None


def check_secure(url: str, what: str) -> str:
    """Refuse anything but https, except on loopback (tests and the sandbox)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return url
    raise ConfigError(f"refusing the {what} {url!r}: it must be https (plain http only for loopback hosts)")


def _oidc_base(target: Target) -> str:
    if target.account_id:
        return f"{target.host}/oidc/accounts/{target.account_id}"
    return f"{target.host}/oidc"


def _get_json(session: Any, url: str) -> dict[str, Any] | None:
    """GET a JSON object; None for 404/non-JSON (try the next document), raise when unreachable.

    A 5xx or 429 still there after the retries is a :class:`NetworkError`: the host is a
    Databricks host having trouble, and "publishes no OAuth metadata" would send the user
    looking for a typo in a URL that is right.
    """
    import requests

    try:
        resp = session.get(url, headers={"Accept": "application/json"}, **transport.request_kwargs(url))
    except requests.RequestException as exc:
        raise transport.network_error(exc, url) from None
    if resp.status_code >= 500 or resp.status_code == 429:
        host = urlsplit(url).netloc
        raise NetworkError(f"{host} answered HTTP {resp.status_code} to discovery, also after retries; try again later")
    if resp.status_code != 200:
        return None
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _from_metadata(data: dict[str, Any]) -> Endpoints | None:
    auth, token = data.get("authorization_endpoint"), data.get("token_endpoint")
    if not isinstance(auth, str) or not isinstance(token, str):
        return None
    revoke = data.get("revocation_endpoint")
    issuer = data.get("issuer")
    return Endpoints(
        authorization_endpoint=check_secure(auth, "authorization endpoint"),
        token_endpoint=check_secure(token, "token endpoint"),
        revocation_endpoint=check_secure(revoke, "revocation endpoint") if isinstance(revoke, str) else None,
        issuer=issuer if isinstance(issuer, str) else None,
    )


def discover(target: Target, session: Any = None) -> Endpoints:
    """The target's endpoints, from RFC 8414 metadata, else from databricks-config.

    Raises :class:`NetworkError` when the host cannot be reached and :class:`ConfigError` when it
    answers but publishes no usable OAuth metadata (usually: not a Databricks host, or a wrong
    account id).
    """
    session = session or transport.new_session()
    base = _oidc_base(target)
    check_secure(base, "host")
    tried = [f"{base}/.well-known/oauth-authorization-server"]
    data = _get_json(session, tried[0])
    found = _from_metadata(data) if data else None
    if found is None and not target.account_id:
        tried.append(f"{target.host}/.well-known/databricks-config")
        config = _get_json(session, tried[1])
        oidc = config.get("oidc_endpoint") if config else None
        if isinstance(oidc, str) and oidc:
            oidc = check_secure(oidc.rstrip("/"), "OIDC endpoint")
            tried.append(f"{oidc}/.well-known/oauth-authorization-server")
            data = _get_json(session, tried[2])
            found = _from_metadata(data) if data else None
            if found is None:  # the documented fixed layout under the advertised base
                found = Endpoints(f"{oidc}/v1/authorize", f"{oidc}/v1/token")
    if found is None:
        what = f"account {target.account_id} on {target.host}" if target.account_id else target.host
        raise ConfigError(
            f"{what} publishes no OAuth metadata (tried {', '.join(tried)}); "
            "check the workspace URL" + (" and the account id" if target.account_id else "")
        )
    return found


def discover_or_none(target: Target) -> Endpoints | None:
    """Discovery for best-effort uses (logout's revocation): never raises for network trouble."""
    try:
        return discover(target)
    except (NetworkError, ConfigError):
        return None
