"""``scopedauth demo --hosted``: two replicas of a hosted app sharing one SQLite store.

It lives in the CLI, not in :mod:`scopedauth.hosted`, because it drives the sandbox: the hosted
package itself imports only the layers below it.

Against the bundled sandbox, with nothing to configure: the demo user signs in on replica 1,
replica 2 serves them, the clock is fast-forwarded to just before the access token expires,
and both replicas under concurrent requests share one refresh. The story goes to ``say``
(stderr); one JSON line of figures goes to ``out`` (stdout).
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..hosted.flaskapp import HostedAuth

__all__ = ["run_hosted_demo", "sample_app"]

CLIENT_ID, CLIENT_SECRET = "hosted-demo", "hosted-demo-secret"


def sample_app(auth: HostedAuth, app_url: str) -> Any:
    """A Flask app with one protected route that calls the sandbox's Databricks App as the visitor."""
    import requests
    from flask import Flask, jsonify

    app = Flask("scopedauth-hosted-demo")
    auth.init_app(app)

    @app.get("/api/hello")
    @auth.login_required
    def hello() -> Any:
        with requests.Session() as http:
            http.trust_env = False  # the sandbox is on loopback: never through a proxy
            answer = http.get(
                f"{app_url}/api/hello", headers={"Authorization": f"Bearer {auth.access_token()}"}, timeout=30
            )
        return jsonify(user=auth.user, app_status=answer.status_code), answer.status_code

    return app


def _serve(app: Any, port: int) -> Any:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return None

    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fast_forward(service: Any, seconds_left: float) -> None:
    """Pretend an hour has passed: the stored token now expires in ``seconds_left``."""
    from ..hosted.refresh import open_token, seal_token

    (row,) = list(service.store.iter_sessions())
    token = open_token(service.keys, row)
    aged = token.replace(
        expiry=datetime.fromtimestamp(time.time() + seconds_left, timezone.utc),
        obtained_at=datetime.fromtimestamp(time.time() - 3600, timezone.utc),
    )
    kid, blob = seal_token(service.keys, row, aged)
    service.store.rewrap(row.id_hash, row.generation, row.kid, kid=kid, ciphertext=blob)


def run_hosted_demo(*, say: Callable[[str], None], out: Callable[[str], None]) -> dict[str, Any]:
    import requests

    from ..hosted.flaskapp import HostedAuth
    from ..hosted.keys import generate_key
    from ..sandbox import Sandbox

    with tempfile.TemporaryDirectory(prefix="scopedauth-hosted-demo-") as tmp, Sandbox() as sandbox:
        store = f"sqlite:///{Path(tmp) / 'hosted.db'}"
        ports = [_free_port(), _free_port()]
        redirect_uri = f"http://127.0.0.1:{ports[0]}/auth/callback"
        sandbox.add_web_client(CLIENT_ID, CLIENT_SECRET, [redirect_uri])
        keys = generate_key("demo")
        auths = [
            HostedAuth(
                host=sandbox.url,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                scopes="sql",
                redirect_uri=redirect_uri,
                store=store,
                keys=keys,
            )
            for _ in ports
        ]
        servers = [_serve(sample_app(a, sandbox.app_url), p) for a, p in zip(auths, ports, strict=True)]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        try:
            say(f"Sandbox workspace {sandbox.url}; two replicas {urls[0]} and {urls[1]}; one store {store}")
            browser = requests.Session()
            browser.trust_env = False
            login = browser.get(f"{urls[0]}/auth/login", allow_redirects=False)
            browser.get(sandbox.approve_url(login.headers["Location"]), allow_redirects=False)
            say(f"1. {sandbox.config.user} signed in on replica 1 (the demo pressed Allow on the consent page).")
            served = browser.get(f"{urls[1]}/api/hello")
            say(f"2. Replica 2 served them: {served.status_code} {served.json()}")
            _fast_forward(auths[0].service, 10)
            sandbox.expire_access_tokens()
            say("3. Fast-forward: the stored access token now has 10 s left; the sandbox expired it.")
            with ThreadPoolExecutor(20) as pool:
                statuses = list(pool.map(lambda i: browser.get(f"{urls[i % 2]}/api/hello").status_code, range(20)))
            refreshes = sandbox.stats.refreshes
            say(
                f"4. 20 concurrent requests over both replicas: {statuses.count(200)} answered 200; "
                f"refreshes at the workspace: {refreshes}; reuse detections: {sandbox.stats.family_revocations}."
            )
            browser.post(f"{urls[1]}/auth/logout", allow_redirects=False)
            after = browser.get(f"{urls[0]}/api/hello").status_code
            say(f"5. Signed out on replica 2; replica 1 now answers {after}. The grant was revoked at the workspace.")
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()
            for auth in auths:
                auth.service.close()
        figures = {
            "served_by_other_replica": served.status_code,
            "concurrent_ok": statuses.count(200),
            "refreshes": refreshes,
            "reuse_detections": sandbox.stats.family_revocations,
            "after_logout": after,
        }
        out(json.dumps(figures))
        return figures
