"""Where to send the user and the code: OAuth endpoint discovery for a target.

Workspaces publish RFC 8414 metadata at ``{host}/oidc/.well-known/oauth-authorization-server``;
newer hosts also publish ``{host}/.well-known/databricks-config`` whose ``oidc_endpoint`` names
the OIDC base. Account consoles live under ``/oidc/accounts/{id}/``.

Every URL a document names passes :func:`scopedauth.urls.parse_url`, which refuses it (a
:class:`ConfigError` naming the field) unless it is an https URL (plain http only on loopback)
of RFC 3986 characters: the authorization endpoint ends up in a browser launcher's argv, the
token endpoint receives codes and refresh tokens. A discovery GET follows a redirect only to
an https URL on the same host, at most :data:`MAX_REDIRECTS` times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import urls
from ..config import Target
from ..errors import ConfigError, NetworkError
from . import transport

__all__ = ["MAX_REDIRECTS", "Endpoints", "discover", "discover_or_none"]

#: redirects one discovery GET may follow (each to https on the same host)
MAX_REDIRECTS = 3


@dataclass(frozen=True)
class Endpoints:
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None = None
    issuer: str | None = None


def _oidc_base(target: Target) -> str:
    if target.account_id:
        return f"{target.host}/oidc/accounts/{target.account_id}"
    return f"{target.host}/oidc"


def _get_json(session: Any, url: urls.Url) -> dict[str, Any] | None:
    """GET a JSON object; None for 404/non-JSON (try the next document), raise when unreachable.

    A 5xx or 429 still there after the retries is a :class:`NetworkError`: the host is a
    Databricks host having trouble, and "publishes no OAuth metadata" would send the user
    looking for a typo in a URL that is right. A redirect is followed by hand, and only to https
    on the host asked (a GET carries no secret, but what it answers names the token endpoint).
    """
    import requests

    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            resp = session.get(
                str(current),
                headers={"Accept": "application/json"},
                allow_redirects=False,
                **transport.request_kwargs(str(current)),
            )
        except requests.RequestException as exc:
            raise transport.network_error(exc, str(current)) from None
        if not resp.is_redirect:
            break
        resp.close()
        field = f"the redirect from {current}"
        moved = urls.join(current, resp.headers.get("location", ""), field)
        if moved.scheme != "https" or moved.host != url.host:
            raise ConfigError(
                f"{field} to {moved} is refused: discovery follows a redirect only to https on {url.host}"
            )
        current = moved
    else:
        raise ConfigError(f"discovery at {url} redirected more than {MAX_REDIRECTS} times")
    if resp.status_code >= 500 or resp.status_code == 429:
        raise NetworkError(
            f"{current.netloc} answered HTTP {resp.status_code} to discovery, also after retries; try again later"
        )
    if resp.status_code != 200:
        return None
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _from_metadata(data: dict[str, Any], document: str) -> Endpoints | None:
    auth, token = data.get("authorization_endpoint"), data.get("token_endpoint")
    if not isinstance(auth, str) or not isinstance(token, str):
        return None
    revoke = data.get("revocation_endpoint")
    issuer = data.get("issuer")

    def endpoint(name: str, value: str) -> str:
        return str(urls.parse_url(value, f"{document} field {name}"))

    return Endpoints(
        authorization_endpoint=endpoint("authorization_endpoint", auth),
        token_endpoint=endpoint("token_endpoint", token),
        revocation_endpoint=endpoint("revocation_endpoint", revoke) if isinstance(revoke, str) else None,
        issuer=issuer if isinstance(issuer, str) else None,
    )


def discover(target: Target, session: Any = None) -> Endpoints:
    """The target's endpoints, from RFC 8414 metadata, else from databricks-config.

    Raises :class:`NetworkError` when the host cannot be reached and :class:`ConfigError` when it
    answers but publishes no usable OAuth metadata (usually: not a Databricks host, or a wrong
    account id).
    """
    session = session or transport.new_session()
    base = urls.parse_url(_oidc_base(target), "host")
    tried = [urls.parse_url(f"{base}/.well-known/oauth-authorization-server", "host")]
    data = _get_json(session, tried[0])
    found = _from_metadata(data, "discovery document") if data else None
    if found is None and not target.account_id:
        tried.append(urls.parse_url(f"{target.host}/.well-known/databricks-config", "host"))
        config = _get_json(session, tried[1])
        oidc = config.get("oidc_endpoint") if config else None
        if isinstance(oidc, str) and oidc:
            field = "databricks-config field oidc_endpoint"
            oidc = str(urls.parse_url(oidc, field)).rstrip("/")
            tried.append(urls.parse_url(f"{oidc}/.well-known/oauth-authorization-server", field))
            data = _get_json(session, tried[2])
            found = _from_metadata(data, f"discovery document at {oidc}") if data else None
            if found is None:  # the documented fixed layout under the advertised base
                found = Endpoints(f"{oidc}/v1/authorize", f"{oidc}/v1/token")
    if found is None:
        what = f"account {target.account_id} on {target.host}" if target.account_id else target.host
        raise ConfigError(
            f"{what} publishes no OAuth metadata (tried {', '.join(map(str, tried))}); "
            "check the workspace URL" + (" and the account id" if target.account_id else "")
        )
    return found


def discover_or_none(target: Target) -> Endpoints | None:
    """Discovery for best-effort uses (logout's revocation): never raises for network trouble."""
    try:
        return discover(target)
    except (NetworkError, ConfigError):
        return None
