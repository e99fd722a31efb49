"""The "developer's app": a small Flask app of the kind a Databricks Apps developer writes.

It runs on its own loopback port, behind the sandbox's front (``scopedauth sandbox --app
NAME=URL`` or ``SandboxConfig(apps=[AppSpec(NAME, URL, …)])``), and reads what Databricks Apps
adds to each request: ``/api/echo`` answers with the request as it arrived (headers, method,
path, query, body), ``/api/me`` calls the workspace as the signed-in user through
``scopedauth.forwarded()`` and the real databricks-sdk ``WorkspaceClient``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

import scopedauth

__all__ = ["DevApp", "create_dev_app"]


def create_dev_app() -> Flask:
    app = Flask("developers_app")

    @app.route("/api/echo", methods=["GET", "POST", "PUT"])
    def echo() -> Any:
        return jsonify(
            method=request.method,
            path=request.path,
            query=request.query_string.decode(),
            body=request.get_data(as_text=True),
            headers={k.lower(): v for k, v in request.headers.items()},
        )

    @app.get("/api/me")
    def me() -> Any:
        from databricks.sdk import WorkspaceClient

        try:
            strategy = scopedauth.forwarded(request.headers)
        except scopedauth.ScopedAuthError as exc:
            return jsonify(error=str(exc)), 401
        w = WorkspaceClient(host=os.environ["DATABRICKS_HOST"], credentials_strategy=strategy)
        return jsonify(user=w.current_user.me().user_name, email=request.headers.get("X-Forwarded-Email"))

    @app.get("/")
    def home() -> Any:
        return "<h1>the developer's app</h1>"

    return app


class DevApp:
    """:func:`create_dev_app` served on 127.0.0.1 in a daemon thread; ``url``; ``close()``."""

    def __init__(self) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, create_dev_app(), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> DevApp:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


if __name__ == "__main__":  # python -m tests.devapp: serve until killed; the URL on stdout
    server = make_server("127.0.0.1", 0, create_dev_app(), threaded=True)
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
