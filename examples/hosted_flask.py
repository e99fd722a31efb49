"""A hosted Flask app where every visitor signs in with Databricks and the app acts as them.

Configure with environment variables, then run it (several replicas may share one store)::

    export DATABRICKS_HOST=https://adb-123.azuredatabricks.net
    export DATABRICKS_CLIENT_ID=… DATABRICKS_CLIENT_SECRET=…          # the OAuth app integration
    export APP_REDIRECT_URI=http://localhost:8000/auth/callback       # registered on the integration
    export SCOPEDAUTH_HOSTED_STORE=sqlite:///portal.db                # or postgresql://…, redis://…
    export SCOPEDAUTH_HOSTED_KEYS="$(scopedauth hosted keygen)"
    flask --app examples/hosted_flask.py run --port 8000
"""

from __future__ import annotations

import html
import os
from typing import Any

from flask import Flask, jsonify

from scopedauth.hosted import HostedAuth


def create_app() -> Flask:
    app = Flask(__name__)
    auth = HostedAuth(
        host=os.environ["DATABRICKS_HOST"],
        client_id=os.environ["DATABRICKS_CLIENT_ID"],
        client_secret=os.environ["DATABRICKS_CLIENT_SECRET"],
        scopes=os.environ.get("APP_SCOPES", "sql"),
        redirect_uri=os.environ["APP_REDIRECT_URI"],
        store=os.environ.get("SCOPEDAUTH_HOSTED_STORE"),
    )
    auth.init_app(app)

    @app.get("/")
    @auth.login_required
    def home() -> str:
        return (
            f"<p>Signed in as {html.escape(auth.user)}.</p>"
            "<p><a href='/api/me'>/api/me</a> asks Databricks who you are, with your token.</p>"
            "<form method=post action='/auth/logout'><button>Sign out</button></form>"
        )

    @app.get("/api/me")
    @auth.login_required
    def me() -> Any:
        user = auth.workspace_client().current_user.me()  # databricks-sdk, as this visitor
        return jsonify(user=user.user_name, display_name=user.display_name)

    return app


app = create_app() if "DATABRICKS_HOST" in os.environ else None
