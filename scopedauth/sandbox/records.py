"""In-memory records: users, clients, codes, tokens and refresh-token families.

The methods are the duck-typed model interfaces authlib's server side calls
(``ClientMixin``, ``AuthorizationCodeMixin``, ``TokenMixin``); nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field

TOKEN_AUTH_SECRET_METHODS = ("client_secret_basic", "client_secret_post")


def normalize_scope(scope: str | None) -> str:
    """Space-joined scopes in request order, duplicates dropped; unknown scopes pass through."""
    return " ".join(dict.fromkeys((scope or "").split()))


@dataclass(frozen=True)
class User:
    username: str

    @property
    def id(self) -> str:
        digest = hashlib.sha256(self.username.encode("utf-8")).hexdigest()
        return str(int(digest[:13], 16))

    @property
    def display_name(self) -> str:
        return self.username.split("@", 1)[0].replace(".", " ").title()


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str | None = None
    redirect_uris: tuple[str, ...] = ()
    grant_types: frozenset[str] = frozenset()

    @property
    def is_public(self) -> bool:
        return self.client_secret is None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # like Databricks: redirect_uri must be sent, and match exactly

    def get_allowed_scope(self, scope: str | None) -> str:
        return normalize_scope(scope)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret is None:
            return False
        return hmac.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in TOKEN_AUTH_SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and bool(self.redirect_uris)

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    realm: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class _Token:
    token: str
    client_id: str
    user: User
    scope: str
    realm: str
    expires_at: float
    family_id: str | None = None

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def get_user(self) -> User:
        return self.user


@dataclass
class AccessToken(_Token):
    revoked: bool = False

    def is_revoked(self) -> bool:
        return self.revoked


ACTIVE, ROTATED, REVOKED = "active", "rotated", "revoked"


@dataclass
class RefreshToken(_Token):
    #: active -> rotated (used once, replaced) or revoked (logout, family revocation)
    status: str = ACTIVE

    def is_revoked(self) -> bool:
        return self.status != ACTIVE


@dataclass
class Family:
    """Every refresh token descended from one login, and the access tokens they minted."""

    id: str
    revoked: bool = False
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
