"""The sandbox's settings, and the fixed facts it advertises about its fake workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKSPACE_ID = "1234567890"
PUBLIC_CLIENT_ID = "databricks-cli"

#: Scopes listed in discovery. Informational only: the server grants whatever is asked.
KNOWN_SCOPES = [
    "all-apis",
    "sql",
    "files.files",
    "file.files",
    "dashboards.genie",
    "iam.current-user:read",
    "iam.access-control:read",
    "serving.serving-endpoints",
    "vectorsearch.vector-search-endpoints",
    "vectorsearch.vector-search-indexes",
    "offline_access",
    "openid",
    "email",
    "profile",
]

GRANT_TYPE_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
AUTHORIZATION_CODE_LIFETIME = 300  # seconds
CONSENT_LIFETIME = 600  # seconds a consent page stays submittable


def _default_redirect_uris() -> dict[str, list[str]]:
    return {PUBLIC_CLIENT_ID: ["http://localhost:8020"]}


def _default_confidential_clients() -> dict[str, str]:
    return {"sp-client": "sp-secret"}


def _default_app_scopes() -> dict[str, list[str]]:
    return {"/api/hello": ["sql"], "/api/genie": ["dashboards.genie"], "/api/files": ["files.files"]}


@dataclass
class AppSpec:
    """A developer's app the sandbox fronts the way Databricks Apps does (see :mod:`.front`).

    ``upstream`` is where the developer's own server listens; ``user_api_scopes`` empty means
    the app does not use user authorization (any valid token passes, none is forwarded).
    """

    name: str
    upstream: str
    user_api_scopes: list[str] = field(default_factory=list)
    #: ``app_status.state``: RUNNING, or e.g. CRASHED / UNAVAILABLE (then the front answers 404)
    state: str = "RUNNING"


#: the Apps API name of the bundled sample app (served at ``Sandbox.app_url``)
SAMPLE_APP_NAME = "sample"


@dataclass
class SandboxConfig:
    """Everything a test may want to vary. The defaults mirror a real workspace."""

    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 90 * 86400
    #: public clients (no secret): client_id -> redirect URIs, matched as exact strings
    redirect_uris: dict[str, list[str]] = field(default_factory=_default_redirect_uris)
    #: confidential clients (service principals): client_id -> client_secret
    confidential_clients: dict[str, str] = field(default_factory=_default_confidential_clients)
    #: confidential web apps (OAuth app integrations): client_id -> (client_secret, redirect URIs);
    #: authorization code with PKCE and rotating refresh tokens, the secret sent by the client
    web_clients: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    account_id: str = "00000000-0000-0000-0000-000000000001"
    user: str = "demo@example.com"
    #: sample app routes and the scopes each requires
    app_scopes: dict[str, list[str]] = field(default_factory=_default_app_scopes)
    advertise_revocation: bool = True
    #: an ssl.SSLContext to serve both ports over TLS
    ssl_context: Any = None
    #: scopes the workspace silently leaves out of a grant (a narrower grant than requested)
    withheld_scopes: list[str] = field(default_factory=list)
    #: token exchange accepts HS256 JWTs signed with this secret
    federation_issuer_secret: str = "federation-secret"
    #: developer apps to front, each on its own loopback origin, listed by the Apps API
    apps: list[AppSpec] = field(default_factory=list)
    #: sign in as the demo user without a consent page (an app developer's CI)
    auto_approve: bool = False
    #: seconds the token endpoint holds every answer back: a slow server makes a client that
    #: blocks while it waits (an event loop, a lock holder) visible in tests
    token_delay: float = 0.0
