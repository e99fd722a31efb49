"""The token endpoint, spoken through authlib's ``OAuth2Session``.

Four grants — authorization code (+PKCE), refresh, client credentials, token exchange — and
revocation. authlib builds and sends each request; every answer, raw, goes through
:func:`~scopedauth.oauth.token_response.parse_token_answer`, the one parser that turns whatever
the server sent into a :class:`~scopedauth.tokens.Token` or a typed error, so a proxy's HTML
error page, a token in a 400 or a token without ``access_token`` can never be stored. No POST
follows a redirect (a 3xx is a :class:`TokenEndpointError`), and every endpoint URL passes
:func:`scopedauth.urls.parse_url` first, also one read back from a stored record. authlib is
imported inside the functions: the hot path never touches it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from .. import urls
from ..config import DEFAULT_CLIENT_ID, OFFLINE_ACCESS, Target
from ..errors import InvalidGrantError, TokenEndpointError
from ..tokens import Token
from . import transport
from .endpoints import Endpoints
from .token_response import oauth_error, parse_token_answer, parse_token_response

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


def redacted(exc: TokenEndpointError, secret: str) -> TokenEndpointError:
    """``exc`` again, with ``secret`` cut out of the server's description (a server may echo it)."""
    if not secret or secret not in (exc.description or ""):
        return exc
    return type(exc)(exc.error, (exc.description or "").replace(secret, "<redacted>"), exc.status)


def _session_class() -> Any:
    """authlib's OAuth2Session, made to hand the raw answer back and never read a token from a URL.

    authlib builds and sends each request (client authentication, PKCE, the form); the answer
    is kept as it came (``session.answer``) for :func:`parse_token_answer`, before authlib would
    judge it by its own, looser rules. ``token_from_fragment`` is authlib's implicit-grant branch
    (taken for any ``authorization_response`` holding ``#``): it is closed, and
    :func:`exchange_code` never passes an ``authorization_response`` in the first place.
    """
    global _SESSION_CLASS
    if _SESSION_CLASS is None:
        from authlib.integrations.requests_client import OAuth2Session

        class AnswerSession(OAuth2Session):  # type: ignore[misc]
            answer: Any = None

            def parse_response_token(self, resp: Any) -> dict[str, Any]:
                self.answer = resp
                return {"refresh_token": None}  # keeps authlib's refresh path from touching its own token

            def token_from_fragment(self, authorization_response: str, state: str | None = None) -> Any:
                raise TokenEndpointError("invalid_request", "a token is never taken from a URL fragment")

        _SESSION_CLASS = AnswerSession
    return _SESSION_CLASS


_SESSION_CLASS: Any = None


def _session(target: Target, *, client_secret: str | None = None, idempotent: bool = False) -> Any:
    session = _session_class()(
        client_id=target.client_id,
        client_secret=client_secret,
        token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
        code_challenge_method="S256",
    )
    return transport.new_session(session, idempotent=idempotent, endpoint="token endpoint")


def _call(
    target: Target,
    session: Any,
    url: str,
    send: Callable[[], Any],
    *,
    previous: Token | None = None,
    hide: tuple[str | None, ...] = (),
) -> Token:
    """Send one token request through authlib; its answer goes to :func:`parse_token_answer`."""
    import requests
    from authlib.common.errors import AuthlibBaseError

    urls.parse_url(url, "token endpoint")
    secrets = tuple(s for s in hide if s)
    try:
        send()
    except AuthlibBaseError as exc:
        raise oauth_error(exc.error, exc.description, None, secrets) from None
    except requests.RequestException as exc:
        raise transport.network_error(exc, url) from None
    except ValueError:  # the form could not be encoded (requests, authlib)
        raise TokenEndpointError("invalid_request", "the token request could not be built") from None
    answer = session.answer
    if answer is None:  # pragma: no cover - authlib always sends when it does not raise
        raise TokenEndpointError("invalid_response", "the token endpoint gave no answer")
    return parse_token_answer(
        target, answer.status_code, answer.content, token_endpoint=url, previous=previous, hide=secrets
    )


def exchange_code(
    target: Target,
    endpoints: Endpoints,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
) -> Token:
    """Trade an authorization code (already judged against our state) for tokens.

    Only the code travels: never the callback address, whose fragment authlib would read as
    an implicit-grant token.
    """
    session = _session(target)
    url = endpoints.token_endpoint
    return _call(
        target,
        session,
        url,
        lambda: session.fetch_token(
            url,
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            scope=" ".join(target.scopes),
            **transport.post_kwargs(url),
        ),
        hide=(code, verifier),
    )


def refresh(token: Token) -> Token:
    """Use the refresh token once; the caller must hold the target's lock and save at once."""
    if not token.refresh_token:
        raise InvalidGrantError("invalid_grant", "there is no refresh token to use")
    session = _session(token.target)
    url = token.token_endpoint
    return _call(
        token.target,
        session,
        url,
        lambda: session.refresh_token(url, refresh_token=token.refresh_token, **transport.post_kwargs(url)),
        previous=token,
        hide=(token.refresh_token, token.access_token),
    )


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
    return _call(
        target,
        session,
        url,
        lambda: session.fetch_token(
            url, grant_type="client_credentials", scope=_unattended_scope(target), **transport.post_kwargs(url)
        ),
        hide=(client_secret,),
    )


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
    return _call(
        target,
        session,
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
        hide=(subject_token,),
    )


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
    except TokenEndpointError as exc:  # a redirect, which no POST of ours follows
        log.warning("could not revoke: %s", exc)
        return False
    return bool(resp.status_code == 200)
