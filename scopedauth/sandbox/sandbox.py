"""The Sandbox: both Flask apps on loopback ports, each served from a daemon thread."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import hs256
from .app import create_sample_app
from .apps import AppsRegistry
from .config import SAMPLE_APP_NAME, SandboxConfig
from .front import create_front
from .server import RealmServer, account_realm, workspace_realm
from .state import SandboxStats, Store, web_client
from .useragent import submit_consent
from .workspace import create_workspace_app

HOST = "127.0.0.1"


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log (keeps test output clean); errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class Sandbox:
    """A Databricks-shaped OAuth server (the workspace host) and a sample Databricks App.

    >>> with Sandbox() as sb:  # doctest: +SKIP
    ...     print(sb.url, sb.app_url)
    """

    def __init__(self, config: SandboxConfig | None = None, port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.port = port
        self.stats = SandboxStats()
        self.url = ""
        self.app_url = ""
        self._store = Store(self.config, self.stats)
        self._workspace = RealmServer(self._store, workspace_realm())
        self._account = RealmServer(self._store, account_realm(self.config.account_id))
        self._workspace_app = create_workspace_app(self._store, self._workspace, self._account)
        self._sample_app = create_sample_app(self._store)
        self._apps = AppsRegistry(self._store)
        self._apps.register(self._workspace_app)
        self._fronts = {spec.name: create_front(self._store, self._apps, spec.name) for spec in self.config.apps}
        #: every app's URL by its Apps API name: the sample app, then each fronted app
        self.app_urls: dict[str, str] = {}
        self._servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._servers:
            raise RuntimeError("sandbox already started")
        scheme = "https" if self.config.ssl_context is not None else "http"
        bound: list[BaseWSGIServer] = []
        try:
            served = [(self._workspace_app, self.port), (self._sample_app, 0), *((f, 0) for f in self._fronts.values())]
            for app, port in served:
                bound.append(
                    make_server(
                        HOST,
                        port,
                        app,
                        threaded=True,
                        request_handler=_QuietHandler,
                        ssl_context=self.config.ssl_context,
                    )
                )
        except BaseException:
            for server in bound:
                server.server_close()
            raise
        self.url = f"{scheme}://{HOST}:{bound[0].server_port}"
        self.app_url = f"{scheme}://{HOST}:{bound[1].server_port}"
        self._store.url, self._store.app_url = self.url, self.app_url
        names = [SAMPLE_APP_NAME, *self._fronts]
        for name, server in zip(names, bound[1:], strict=True):
            self.app_urls[name] = f"{scheme}://{HOST}:{server.server_port}"
            entry = self._apps.get(name)
            if entry is not None:
                entry.url = self.app_urls[name]
        for server, name in zip(bound, ["workspace", *names], strict=True):
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"scopedauth-sandbox-{name}",
                daemon=True,
            )
            thread.start()
            self._servers.append((server, thread))
        return self

    def stop(self) -> None:
        servers, self._servers = self._servers, []
        stoppers = [threading.Thread(target=server.shutdown) for server, _ in servers]
        for stopper in stoppers:  # shut both down at once: each waits one poll interval
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for server, thread in servers:
            server.server_close()
            thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- test controls ------------------------------------------------------------------------
    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired from now on."""
        self._store.expire_access_tokens()

    def add_web_client(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> None:
        """Register a confidential web app once its redirect URI is known (its port is bound).

        Registering the same client again adds redirect URIs, as an app integration lists several.
        """
        with self._store.lock:
            known = self._store.clients.get(client_id)
            uris = list(known.redirect_uris) if known and known.client_secret == client_secret else []
            uris += [uri for uri in redirect_uris if uri not in uris]
            self._store.clients[client_id] = web_client(client_id, client_secret, uris)

    def fail_next_token_requests(self, n: int, status: int = 503) -> None:
        """The next ``n`` POSTs to a token endpoint answer ``status`` with a JSON error."""
        self._store.fail_next(n, status)

    def set_app_state(self, name: str, state: str) -> None:
        """``app_status.state`` of app ``name`` (e.g. ``CRASHED``); a stopped app's front answers 404."""
        self._apps.set_state(name, state)

    def set_app_scopes(self, name: str, scopes: list[str]) -> None:
        """Change app ``name``'s ``user_api_scopes``, as its owner would in the workspace UI."""
        self._apps.set_scopes(name, scopes)

    def approve_url(self, authorize_url: str) -> str:
        """Press Allow as the demo user; return the redirect Location (not followed)."""
        return submit_consent(self._workspace_app, self._require_url(), authorize_url, "allow")

    def deny_url(self, authorize_url: str) -> str:
        """Press Deny; return ``redirect_uri?error=access_denied&...`` (not followed)."""
        return submit_consent(self._workspace_app, self._require_url(), authorize_url, "deny")

    def issue_access_token(self, scopes: list[str], lifetime: int | None = None) -> str:
        """A workspace access token for the demo user; ``lifetime`` <= 0 makes it expired."""
        return self._store.mint_access_token(scopes, lifetime, self._workspace.realm.key)

    def make_subject_token(self, sub: str = "federated@example.com") -> str:
        """An HS256 JWT the token-exchange grant accepts, valid for five minutes."""
        now = int(time.time())
        claims = {"iss": "https://idp.example.com", "sub": sub, "aud": self.url, "iat": now, "exp": now + 300}
        return hs256.encode(claims, self.config.federation_issuer_secret)

    def _require_url(self) -> str:
        if not self.url:
            raise RuntimeError("sandbox not started")
        return self.url
