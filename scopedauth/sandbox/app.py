"""The sample Databricks App: ``/api/...`` routes guarded by user-authorization scopes.

401 when the bearer token is missing, unknown, revoked or expired; 403 with Databricks'
wording when it lacks a route's scopes; 404 for any path that is not a configured route.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from . import pages
from .state import Store
from .workspace import bearer_token, unauthenticated

MISSING_SCOPES = "Provided OAuth token does not have required scopes: "


def create_sample_app(store: Store) -> Flask:
    app = Flask("scopedauth.sandbox.app")
    routes = store.config.app_scopes

    @app.get("/")
    def home() -> Response:
        return pages.app_home(routes)

    @app.route("/<path:path>", methods=["GET", "POST"])
    def api(path: str) -> Response | tuple[Response, int]:
        route = "/" + path
        required = routes.get(route)
        if required is None:
            return jsonify(error_code="NOT_FOUND", message=f"No route '{route}' in this app."), 404
        record, problem = store.check_access(bearer_token(request.headers.get("Authorization")), "workspace")
        if record is None:
            return unauthenticated(problem)
        missing = [scope for scope in required if scope not in record.scopes]
        if missing:
            return Response(MISSING_SCOPES + " ".join(missing), status=403, mimetype="text/plain")
        return jsonify(
            user=record.user.username,
            path=route,
            method=request.method,
            scopes=record.scopes,
        )

    @app.errorhandler(404)
    def not_found(_error: Exception) -> tuple[Response, int]:
        return jsonify(error_code="NOT_FOUND", message="Not found."), 404

    @app.errorhandler(405)
    def not_allowed(_error: Exception) -> tuple[Response, int]:
        return jsonify(error_code="BAD_REQUEST", message=f"{request.method} is not allowed here"), 405

    return app
