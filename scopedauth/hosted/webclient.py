"""The app's side of OAuth as a confidential client: code exchange, refresh, revocation, who.

A hosted app is a confidential OAuth app integration: every token request carries the client
secret in the form body (``client_secret_post``, as databricks-sdk's ``Consent.exchange`` sends
it) *and* a PKCE verifier (RFC 9700 asks for both). Responses go through the same
:func:`~scopedauth.oauth.token_response.parse_token_answer` as the CLI's, so a proxy's error page is
a typed error and never a stored token.

Refresh requests are sent once, with no retry and a timeout shorter than the refresh lease
(:mod:`scopedauth.hosted.refresh`): a refresh token may rotate, so a replayed or late request
could spend it twice.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from .. import urls
from ..config import Target
from ..errors import NetworkError, ScopedAuthError, StorageError, TokenEndpointError
from ..oauth import transport
from ..oauth.client import authorize_url
from ..oauth.endpoints import Endpoints, discover
from ..oauth.token_response import parse_token_answer
from ..tokens import Token

__all__ = ["WebClient"]

SCIM_ME = "/api/2.0/preview/scim/v2/Me"


class WebClient:
    """One OAuth app integration on one workspace. The repr leaves the secret out."""

    def __init__(self, target: Target, client_secret: str, redirect_uri: str) -> None:
        self.target, self.client_secret, self.redirect_uri = target, client_secret, redirect_uri
        self._endpoints: Endpoints | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WebClient(host={self.target.host!r}, client_id={self.target.client_id!r})"

    # -- endpoints ------------------------------------------------------------------------
    def endpoints(self) -> Endpoints:
        """Discovery, once per client (the endpoints of a workspace do not move)."""
        with self._lock:
            if self._endpoints is None:
                self._endpoints = discover(self.target)
            return self._endpoints

    def authorize_url(self, *, state: str, challenge: str) -> str:
        return authorize_url(
            self.target, self.endpoints(), redirect_uri=self.redirect_uri, challenge=challenge, state=state
        )

    # -- token endpoint ---------------------------------------------------------------------
    def _post(self, url: str, form: dict[str, str], timeout: tuple[float, float] | None) -> Any:
        """POST once (no retry of a request that may have reached the server); the raw response."""
        import requests

        urls.parse_url(url, "token endpoint")
        kwargs = transport.post_kwargs(url)  # a redirect is answered, never followed
        if timeout is not None:
            kwargs["timeout"] = timeout
        body = {**form, "client_id": self.target.client_id, "client_secret": self.client_secret}
        session = requests.Session()  # no retry adapter at all: see the module docstring
        session.headers["User-Agent"] = "scopedauth-hosted"
        try:
            return session.post(url, data=body, headers={"Accept": "application/json"}, **kwargs)
        except requests.RequestException as exc:
            raise transport.network_error(exc, url) from None
        finally:
            session.close()

    def _token(self, url: str, form: dict[str, str], *, previous: Token | None, timeout: Any = None) -> Token:
        return self._answer(self._post(url, form, timeout), url, previous=previous, hide=form.values())

    def _answer(self, resp: Any, url: str, *, previous: Token | None, hide: Any) -> Token:
        """The one strict token-answer parser (status, JSON, types); our secrets cut from its errors."""
        return parse_token_answer(
            self.target,
            resp.status_code,
            resp.content,
            token_endpoint=url,
            previous=previous,
            hide=(self.client_secret, *hide),
        )

    def exchange_code(self, code: str, verifier: str) -> tuple[Token, dict[str, Any]]:
        """Trade the code; also return the raw response (it may carry an ``id_token``)."""
        url = self.endpoints().token_endpoint
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        form["code_verifier"] = verifier
        resp = self._post(url, form, None)
        token = self._answer(resp, url, previous=None, hide=form.values())
        data = resp.json()  # the parser accepted it as a JSON object
        return token, data if isinstance(data, dict) else {}

    def refresh(self, token: Token, timeout: tuple[float, float]) -> Token:
        """Spend the refresh token once; the caller holds the session's lease."""
        if not token.refresh_token:
            raise StorageError("the session has no refresh token")
        url = token.token_endpoint or self.endpoints().token_endpoint
        form = {"grant_type": "refresh_token", "refresh_token": token.refresh_token}
        return self._token(url, form, previous=token, timeout=timeout)

    def revoke(self, token: Token) -> bool:
        """RFC 7009 at the workspace, when discovery advertises it; best effort (False: not revoked)."""
        try:
            endpoint = self.endpoints().revocation_endpoint
        except ScopedAuthError:  # no discovery, no revocation: logout goes on
            return False
        if not endpoint:
            return False
        secret, hint = (
            (token.refresh_token, "refresh_token") if token.refresh_token else (token.access_token, "access_token")
        )
        try:
            resp = self._post(endpoint, {"token": secret, "token_type_hint": hint}, (5.0, 10.0))
        except NetworkError:
            return False
        return bool(resp.status_code == 200)

    # -- who signed in ----------------------------------------------------------------------
    def subject(self, token: Token, raw: dict[str, Any]) -> str:
        """The user's name: the ``id_token``'s email/sub when there is one, else SCIM ``Me``.

        The id_token came straight from the token endpoint over TLS, which OpenID Connect Core
        §3.1.3.7 accepts in place of checking its signature.
        """
        claims = _id_token_claims(raw.get("id_token"))
        for name in ("email", "preferred_username", "sub"):
            if isinstance(claims.get(name), str) and claims[name]:
                return str(claims[name])
        return self._scim_user(token)

    def _scim_user(self, token: Token) -> str:
        import requests

        url = self.target.host + SCIM_ME
        session = transport.new_session()
        try:
            resp = session.get(
                url, headers={"Authorization": f"Bearer {token.access_token}"}, **transport.request_kwargs(url)
            )
            data = resp.json() if resp.status_code == 200 else {}
        except (requests.RequestException, ValueError) as exc:
            raise NetworkError(f"cannot ask {self.target.host} who signed in ({type(exc).__name__})") from None
        finally:
            session.close()
        name = data.get("userName") if isinstance(data, dict) else None
        if not isinstance(name, str) or not name:
            raise TokenEndpointError("invalid_response", f"SCIM Me did not name the user (HTTP {resp.status_code})")
        return name


def _id_token_claims(id_token: object) -> dict[str, Any]:
    import base64

    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return {}
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}
