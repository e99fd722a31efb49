"""A sample hosted Flask app ("a replica") served on loopback, and a browser that signs in.

Used by the hosted tests, the replica processes of the refresh race, and the benchmarks.
The app's pages never show a token: ``/`` and ``/api/whoami`` show the user and a short
fingerprint of the access token, ``/api/call`` calls the sandbox's sample Databricks App
with it, ``/sdk`` asks SCIM ``Me`` through databricks-sdk.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import requests
from flask import Flask, jsonify
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from scopedauth.hosted.flaskapp import HostedAuth
from scopedauth.hosted.keys import Keyring
from scopedauth.hosted.model import HostedStore, SessionRow
from scopedauth.hosted.refresh import open_token, seal_token
from scopedauth.sandbox import Sandbox

CLIENT_ID = "web-app"
CLIENT_SECRET = "web-secret-0123456789"


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def create_app(auth: HostedAuth, app_url: str) -> Flask:
    app = Flask("hosted-sample")
    auth.init_app(app)

    @app.get("/")
    @auth.login_required
    def home() -> Any:
        return jsonify(user=auth.user, token=fingerprint(auth.access_token()))

    @app.get("/api/whoami")
    @auth.login_required
    def whoami() -> Any:
        return jsonify(user=auth.user, token=fingerprint(auth.access_token()))

    @app.get("/api/call")
    @auth.login_required
    def call() -> Any:
        resp = requests.get(
            app_url + "/api/hello",
            headers={"Authorization": f"Bearer {auth.access_token()}"},
            timeout=30,
            proxies={"http": "", "https": ""},
        )
        return jsonify(status=resp.status_code, body=resp.json()), 200 if resp.status_code == 200 else 502

    @app.get("/sdk")
    @auth.login_required
    def sdk() -> Any:
        client = auth.workspace_client()
        sdk_token = client.config.oauth_token()  # what the SDK holds: never a refresh token
        return jsonify(user=client.current_user.me().user_name, sdk_refresh_token=bool(sdk_token.refresh_token))

    @app.get("/open")
    def open_route() -> Any:
        return jsonify(ok=True)

    @app.get("/open/whoami")
    def open_whoami() -> Any:
        """/api/whoami without auth: the baseline the benchmark compares against."""
        return jsonify(user="anonymous", token=fingerprint("anonymous"))

    return app


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class Served:
    """A WSGI app on 127.0.0.1 (``port`` 0: a free one), in a daemon thread."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_auth(sandbox: Sandbox, store: str | HostedStore, keys: str | Keyring, port: int, **kw: Any) -> HostedAuth:
    redirect_uri = f"http://127.0.0.1:{port}/auth/callback"
    sandbox.add_web_client(CLIENT_ID, CLIENT_SECRET, [redirect_uri])
    return HostedAuth(
        host=sandbox.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes="sql",
        redirect_uri=redirect_uri,
        store=store,
        keys=keys,
        **kw,
    )


class Browser(requests.Session):
    """A cookie jar that follows the login dance the way a browser would, pressing Allow."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False

    def sign_in(self, app_url: str, sandbox: Sandbox, next_path: str = "/") -> requests.Response:
        started = self.get(f"{app_url}/auth/login", params={"next": next_path}, allow_redirects=False)
        assert started.status_code == 302, started.text
        callback = sandbox.approve_url(started.headers["Location"])
        return self.get(callback, allow_redirects=False)


def age_session(store: HostedStore, keys: Keyring, row: SessionRow, seconds_left: float) -> None:
    """Make the stored token look ``seconds_left`` from expiry (as if an hour had passed)."""
    token = open_token(keys, row)
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    aged = token.replace(
        expiry=datetime.fromtimestamp(time.time() + seconds_left, timezone.utc),
        obtained_at=now.replace(year=now.year - 1),
    )
    kid, blob = seal_token(keys, row, aged)
    assert store.rewrap(row.id_hash, row.generation, row.kid, kid=kid, ciphertext=blob)
