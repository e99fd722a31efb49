"""authlib's Flask AuthorizationServer, one instance per realm (workspace, account)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError

from .config import GRANT_TYPE_TOKEN_EXCHANGE, KNOWN_SCOPES, TOKEN_AUTH_METHODS
from .grants import (
    CodeGrant,
    CredentialsGrant,
    Revocation,
    RotatingRefreshGrant,
    S256CodeChallenge,
    TokenExchangeGrant,
)
from .records import User, normalize_scope
from .state import Store


@dataclass(frozen=True)
class Realm:
    """Where tokens are valid: ``workspace`` or ``account``. Tokens never cross realms."""

    key: str
    path: str  # the OIDC base path on the workspace host
    title: str  # shown on the consent page


def workspace_realm() -> Realm:
    return Realm("workspace", "/oidc", "workspace")


def account_realm(account_id: str) -> Realm:
    return Realm("account", f"/oidc/accounts/{account_id}", "account")


class RealmServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, store: Store, realm: Realm) -> None:
        super().__init__()
        self.store = store
        self.realm = realm
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RotatingRefreshGrant)
        self.register_grant(CredentialsGrant)
        self.register_grant(TokenExchangeGrant)
        self.register_endpoint(Revocation)

    # -- authlib hooks ------------------------------------------------------------------
    def query_client(self, client_id: str) -> Any:
        return self.store.query_client(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        client = request.client
        user = request.user or User(client.client_id)  # client_credentials: the principal itself
        family_id, refresh_scope = None, token.get("scope", "")
        if request.payload.grant_type == "refresh_token":
            family_id, refresh_scope = request.refresh_token.family_id, request.refresh_token.scope
        self.store.save_tokens(
            token,
            client_id=client.client_id,
            user=user,
            realm=self.realm.key,
            family_id=family_id,
            refresh_scope=refresh_scope,
        )

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Any:
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            error.status_code = 401  # Databricks answers every client failure with 401
            raise

    def validate_requested_scope(self, scope: str | None) -> None:
        return None  # unknown scopes pass through, as on Databricks

    def _generate_token(
        self,
        *,
        grant_type: str,
        client: Any,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        granted = normalize_scope(scope)
        lifetime = self.store.config.access_token_lifetime
        token: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(32),
            "token_type": "Bearer",
            "expires_in": lifetime if expires_in is None else expires_in,
            "scope": granted,
        }
        offline = grant_type == "authorization_code" and "offline_access" in granted.split()
        if include_refresh_token and (offline or grant_type == "refresh_token"):
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    # -- discovery ------------------------------------------------------------------------
    def issuer(self) -> str:
        return self.store.url + self.realm.path

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 document, shaped like the one a Databricks workspace serves."""
        issuer = self.issuer()
        doc: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/v1/authorize",
            "token_endpoint": f"{issuer}/v1/token",
            "jwks_uri": f"{issuer}/jwks.json",
            "scopes_supported": list(KNOWN_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                GRANT_TYPE_TOKEN_EXCHANGE,
            ],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "request_uri_parameter_supported": False,
        }
        if self.store.config.advertise_revocation:
            doc["revocation_endpoint"] = f"{issuer}/v1/revoke"
            doc["revocation_endpoint_auth_methods_supported"] = list(TOKEN_AUTH_METHODS)
        return doc
