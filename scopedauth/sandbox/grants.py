"""authlib grants and endpoints bound to the sandbox store.

Each grant reaches the store and its realm (workspace or account) through
``self.server``, a :class:`scopedauth.sandbox.server.RealmServer`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    BaseGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    TokenEndpointMixin,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

from . import hs256
from .config import AUTHORIZATION_CODE_LIFETIME, GRANT_TYPE_TOKEN_EXCHANGE, PUBLIC_CLIENT_ID, TOKEN_AUTH_METHODS
from .records import ACTIVE, ROTATED, AccessToken, AuthCode, Client, RefreshToken, User

if TYPE_CHECKING:
    from .server import RealmServer

SUBJECT_TOKEN_TYPES = frozenset(
    {
        "urn:ietf:params:oauth:token-type:jwt",
        "urn:ietf:params:oauth:token-type:access_token",
        "urn:ietf:params:oauth:token-type:id_token",
    }
)
ISSUED_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """RFC 7636 as Databricks runs it: a challenge is mandatory and only S256 is accepted."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Unsupported 'code_challenge_method': only S256 is accepted.")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    @property
    def realm_server(self) -> RealmServer:
        server: RealmServer = self.server
        return server

    def save_authorization_code(self, code: str, request: Any) -> None:
        server = self.realm_server
        data = request.payload.data
        record = AuthCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=" ".join(s for s in (request.scope or "").split() if s not in server.store.config.withheld_scopes),
            user=request.user,
            realm=server.realm.key,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            expires_at=time.time() + AUTHORIZATION_CODE_LIFETIME,
        )
        server.store.save_code(record)
        server.store.stats.incr("codes_issued")

    def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
        server = self.realm_server
        return server.store.find_code(code, client.client_id, server.realm.key)

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        self.realm_server.store.delete_code(authorization_code.code)

    def authenticate_user(self, authorization_code: AuthCode) -> User:
        return authorization_code.user


class RotatingRefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    """Refresh tokens rotate; presenting a rotated one revokes its whole family."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        server: RealmServer = self.server
        store = server.store
        rec = store.find_refresh(refresh_token, server.realm.key)
        if rec is None:
            return None
        if rec.status == ROTATED:
            store.revoke_family(rec.family_id, reuse=True)
            raise InvalidGrantError("Refresh token reuse detected; the token family has been revoked.")
        if rec.status != ACTIVE or store.family_revoked(rec.family_id):
            raise InvalidGrantError("The refresh token has been revoked.")
        if rec.is_expired():
            raise InvalidGrantError("The refresh token has expired.")
        return rec

    def authenticate_user(self, refresh_token: RefreshToken) -> User:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        server: RealmServer = self.server
        server.store.rotate(refresh_token)


class CredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    """RFC 8693: trade a federated HS256 JWT for an access token of its ``sub``."""

    GRANT_TYPE = GRANT_TYPE_TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_token_request(self) -> None:
        server: RealmServer = self.server
        named = self.request.form.get("client_id") or self.request.headers.get("Authorization")
        # account-wide token federation names no client, as on Databricks
        client = self.authenticate_token_endpoint_client() if named else server.store.query_client(PUBLIC_CLIENT_ID)
        if client is None:
            raise InvalidRequestError("No client for account-wide federation.")
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(f"The client is not authorized to use 'grant_type={self.GRANT_TYPE}'")
        form = self.request.form
        subject_token = form.get("subject_token")
        if not subject_token:
            raise InvalidRequestError("Missing 'subject_token' in request.")
        if form.get("subject_token_type") not in SUBJECT_TOKEN_TYPES:
            raise InvalidRequestError("Missing or unsupported 'subject_token_type'.")
        try:
            claims = hs256.decode(subject_token, server.store.config.federation_issuer_secret)
        except hs256.JWTError as exc:
            raise InvalidGrantError(f"Invalid subject token: {exc}.") from exc
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidGrantError("The subject token has no 'sub' claim.")
        self.request.client = client
        self.request.user = User(sub)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token: dict[str, Any] = self.generate_token(
            user=self.request.user, scope=self.request.payload.scope, include_refresh_token=False
        )
        token["issued_token_type"] = ISSUED_TOKEN_TYPE
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. A refresh token takes its family with it; unknown tokens answer 200."""

    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> AccessToken | RefreshToken | None:
        server: RealmServer = self.server
        return server.store.find_token(token_string, server.realm.key)

    def revoke_token(self, token: AccessToken | RefreshToken, request: Any) -> None:
        server: RealmServer = self.server
        server.store.revoke(token)
