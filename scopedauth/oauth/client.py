"""The token endpoint, spoken through authlib's ``OAuth2Session``.

Four grants — authorization code (+PKCE), refresh, client credentials, token exchange — and
revocation. Every response goes through :func:`parse_token_response`, which turns whatever the
server sent into a :class:`~scopedauth.tokens.Token` or a typed error, so a proxy's HTML error
page or a token without ``access_token`` can never be stored. No POST follows a redirect (a
3xx is a :class:`TokenEndpointError`), and every endpoint URL passes
:func:`scopedauth.urls.parse_url` first, also one read back from a stored record. authlib is
imported inside the functions: the hot path never touches it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from .. import urls
from ..config import DEFAULT_CLIENT_ID, OFFLINE_ACCESS, Target, parse_scopes
from ..errors import ConfigError, InvalidGrantError, TokenEndpointError
from ..tokens import Token, utcnow
from . import transport
from .endpoints import Endpoints

__all__ = [
    "TOKEN_EXCHANGE_GRANT",
    "authorize_url",
    "client_credentials",
    "exchange_code",
    "parse_token_response",
    "redacted",
    "refresh",
    "revoke",
    "token_exchange",
]

log = logging.getLogger("scopedauth")
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
_MAX_LIFETIME = 366 * 86400


def authorize_url(target: Target, endpoints: Endpoints, *, redirect_uri: str, challenge: str, state: str) -> str:
    """The URL the browser opens: response_type=code with an S256 challenge."""
    query = {
        "response_type": "code",
        "client_id": target.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(target.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    sep = "&" if "?" in endpoints.authorization_endpoint else "?"
    return endpoints.authorization_endpoint + sep + urlencode(query)


def parse_token_response(target: Target, data: object, *, token_endpoint: str, previous: Token | None = None) -> Token:
    """Validate a token-endpoint JSON object and build the record.

    ``previous`` is the record being refreshed: a server that does not rotate the refresh token
    keeps the old one, and one that omits ``scope`` keeps the granted set.
    """
    if not isinstance(data, Mapping):
        raise TokenEndpointError("invalid_response", "the token endpoint did not return a JSON object")
    if "error" in data:
        raise _oauth_error(data.get("error"), data.get("error_description"), None)
    access = data.get("access_token")
    if not isinstance(access, str) or not access or len(access) > 65536:
        raise TokenEndpointError("invalid_response", "the response has no access_token")
    token_type = data.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenEndpointError("invalid_response", f"unsupported token_type {str(token_type)[:40]!r}")
    refresh_token = data.get("refresh_token")
    if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
        raise TokenEndpointError("invalid_response", "the refresh_token is not a string")
    now = utcnow()
    expiry = None
    expires_in = data.get("expires_in")
    if expires_in is not None:
        try:
            seconds = float(expires_in)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond float range
            raise TokenEndpointError("invalid_response", "expires_in is not a number") from None
        if not math.isfinite(seconds) or seconds <= 0 or seconds > _MAX_LIFETIME:
            raise TokenEndpointError("invalid_response", "expires_in is out of range")
        expiry = now + timedelta(seconds=seconds)
    scope = data.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise TokenEndpointError("invalid_response", "scope is not a string")
    try:
        granted = parse_scopes(scope) if scope else (previous.granted_scopes if previous else target.scopes)
    except ConfigError:
        raise TokenEndpointError("invalid_response", "scope holds characters no scope may have") from None
    return Token(
        target=target,
        access_token=access,
        token_type="Bearer",
        expiry=expiry,
        refresh_token=refresh_token or (previous.refresh_token if previous else None),
        granted_scopes=granted,
        token_endpoint=token_endpoint,
        obtained_at=now,
    )


def redacted(exc: TokenEndpointError, secret: str) -> TokenEndpointError:
    """``exc`` again, with ``secret`` cut out of the server's description (a server may echo it)."""
    if not secret or secret not in (exc.description or ""):
        return exc
    return type(exc)(exc.error, (exc.description or "").replace(secret, "<redacted>"), exc.status)


def _oauth_error(error: object, description: object, status: int | None) -> TokenEndpointError:
    code = str(error)[:100] if error else "unknown_error"
    desc = str(description)[:500] if description else None
    cls = InvalidGrantError if code == "invalid_grant" else TokenEndpointError
    return cls(code, desc, status)


def _session(target: Target, *, client_secret: str | None = None, idempotent: bool = False) -> Any:
    """authlib's session on our transport: retry policy, DEBUG log, and no redirect followed."""
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(
        client_id=target.client_id,
        client_secret=client_secret,
        token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
        code_challenge_method="S256",
    )
    return transport.new_session(session, idempotent=idempotent, endpoint="token endpoint")


def _call(url: str, send: Callable[[], Any]) -> Mapping[str, Any]:
    """Run one authlib token call and map every failure onto the error tree."""
    import requests
    from authlib.common.errors import AuthlibBaseError

    urls.parse_url(url, "token endpoint")
    try:
        result = send()
    except AuthlibBaseError as exc:
        raise _oauth_error(exc.error, exc.description, None) from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        raise TokenEndpointError("server_error", "the token endpoint failed", status) from None
    except requests.RequestException as exc:
        raise transport.network_error(exc, url) from None
    except ValueError as exc:  # authlib: body is not a JSON object
        raise TokenEndpointError("invalid_response", str(exc)[:200]) from None
    except (TypeError, OverflowError):  # authlib's OAuth2Token does int() on expires_in / expires_at as sent
        raise TokenEndpointError("invalid_response", "expires_in or expires_at is not a number") from None
    if not isinstance(result, Mapping):
        raise TokenEndpointError("invalid_response", "the token endpoint did not return a JSON object")
    return result


def exchange_code(
    target: Target,
    endpoints: Endpoints,
    *,
    callback_url: str,
    state: str,
    verifier: str,
    redirect_uri: str,
) -> Token:
    """Trade the authorization code in ``callback_url`` for tokens (authlib re-checks ``state``)."""
    session = _session(target)
    url = endpoints.token_endpoint
    data = _call(
        url,
        lambda: session.fetch_token(
            url,
            authorization_response=callback_url,
            state=state,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            scope=" ".join(target.scopes),
            **transport.post_kwargs(url),
        ),
    )
    return parse_token_response(target, data, token_endpoint=url)


def refresh(token: Token) -> Token:
    """Use the refresh token once; the caller must hold the target's lock and save at once."""
    if not token.refresh_token:
        raise InvalidGrantError("invalid_grant", "there is no refresh token to use")
    session = _session(token.target)
    url = token.token_endpoint
    data = _call(
        url,
        lambda: session.refresh_token(url, refresh_token=token.refresh_token, **transport.post_kwargs(url)),
    )
    return parse_token_response(token.target, data, token_endpoint=url, previous=token)


def _unattended_scope(target: Target) -> str:
    """The scopes sent for grants that never carry a refresh token.

    ``offline_access`` stays in the target (so ``token --scopes sql`` finds the record under the
    same key as ``login --scopes sql``) but is not asked for: RFC 6749 §4.4.3 gives client
    credentials no refresh token, and RFC 8693 leaves it to the server.
    """
    return " ".join(s for s in target.scopes if s != OFFLINE_ACCESS)


def client_credentials(target: Target, endpoints: Endpoints, client_secret: str) -> Token:
    """Service principal (M2M): nothing to replay, so 5xx are retried too."""
    session = _session(target, client_secret=client_secret, idempotent=True)
    url = endpoints.token_endpoint
    data = _call(
        url,
        lambda: session.fetch_token(
            url, grant_type="client_credentials", scope=_unattended_scope(target), **transport.post_kwargs(url)
        ),
    )
    return parse_token_response(target, data, token_endpoint=url)


def token_exchange(target: Target, endpoints: Endpoints, subject_token: str, subject_token_type: str) -> Token:
    """RFC 8693: trade another identity provider's token for a Databricks one.

    Not retried on 5xx: a one-time subject token (some identity providers bind them to one
    use) may already have been spent by the first attempt. With the default client no
    ``client_id`` is sent: Databricks reads an exchange without one as account-wide token
    federation, and one with a client id as workload identity federation of that service
    principal (``--client-id``).
    """
    session = _session(target)
    url = endpoints.token_endpoint
    account_wide = target.client_id == DEFAULT_CLIENT_ID
    data = _call(
        url,
        lambda: session.fetch_token(
            url,
            auth=_no_client_auth if account_wide else None,
            grant_type=TOKEN_EXCHANGE_GRANT,
            subject_token=subject_token,
            subject_token_type=subject_token_type,
            scope=_unattended_scope(target),
            **transport.post_kwargs(url),
        ),
    )
    return parse_token_response(target, data, token_endpoint=url)


def _no_client_auth(request: Any) -> Any:
    """A requests auth that adds nothing (authlib's public-client auth would add client_id)."""
    return request


def revoke(token: Token, revocation_endpoint: str) -> bool:
    """RFC 7009: revoke the refresh token (or the access token). True when the server said 200."""
    import requests

    urls.parse_url(revocation_endpoint, "revocation endpoint")
    secret, hint = (
        (token.refresh_token, "refresh_token") if token.refresh_token else (token.access_token, "access_token")
    )
    session = transport.new_session(idempotent=False, endpoint="revocation endpoint")
    try:
        resp = session.post(
            revocation_endpoint,
            data={"token": secret, "token_type_hint": hint, "client_id": token.target.client_id},
            **transport.post_kwargs(revocation_endpoint),
        )
    except requests.RequestException as exc:
        log.warning("could not revoke: %s", transport.network_error(exc, revocation_endpoint))
        return False
    except TokenEndpointError as exc:
        log.warning("could not revoke: %s", exc)
        return False
    return bool(resp.status_code == 200)
