"""The front of a developer's app: what Databricks Apps does before a request reaches the app.

Each fronted app gets its own loopback origin. For every request:

1. a stopped app answers 404 ``App Not Available`` (as a real one does);
2. outside ``/api/`` a bearer token is never accepted (401): scripts may only call ``/api/``;
3. no valid workspace token → 401; a token without the app's effective scopes → 403
   ``Provided OAuth token does not have required scopes: …``; neither reaches the app;
4. otherwise the request goes to the developer's server with the caller's ``Authorization``
   and any ``X-Forwarded-*`` / ``X-Real-Ip`` / ``X-Request-Id`` it sent removed (a caller must
   not forge an identity), and these added: ``X-Forwarded-Access-Token`` (the user's token; only
   for an app with user authorization), ``X-Forwarded-Email``, ``X-Forwarded-User``,
   ``X-Forwarded-Preferred-Username``, ``X-Real-Ip``, ``X-Request-Id``.
"""

from __future__ import annotations

import uuid

import requests
from flask import Flask, Response, jsonify, request

from .app import MISSING_SCOPES
from .apps import AppsRegistry, forwarded_user
from .state import Store
from .workspace import bearer_token, unauthenticated

__all__ = ["create_front"]

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _dropped(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered in _HOP_BY_HOP
        or lowered == "authorization"
        or lowered.startswith("x-forwarded-")
        or lowered in ("x-real-ip", "x-request-id")
    )


def create_front(store: Store, registry: AppsRegistry, name: str) -> Flask:
    """The WSGI app serving app ``name``'s origin."""
    front = Flask(f"scopedauth.sandbox.front.{name}")

    @front.route("/", defaults={"path": ""}, methods=_METHODS)
    @front.route("/<path:path>", methods=_METHODS)
    def proxy(path: str) -> Response | tuple[Response, int]:
        entry = registry.get(name)
        assert entry is not None  # noqa: S101 - the registry never drops an app
        if entry.spec.state != "RUNNING":
            return Response("App Not Available", status=404, mimetype="text/plain")
        route = "/" + path
        token = bearer_token(request.headers.get("Authorization"))
        if not route.startswith("/api/"):
            why = "Bearer tokens are accepted only on /api/ routes" if token else "Sign-in required"
            return unauthenticated(f"{why}; scripts call this app's /api/ routes with a bearer token.")
        record, problem = store.check_access(token, "workspace")
        if record is None:
            return unauthenticated(problem)
        missing = [s for s in entry.effective_scopes if s not in record.scopes]
        if missing:
            return Response(MISSING_SCOPES + " ".join(missing), status=403, mimetype="text/plain")
        headers = {k: v for k, v in request.headers.items() if not _dropped(k)}
        headers.update(forwarded_user(record.user.username, record.user.id))
        headers["X-Real-Ip"] = request.remote_addr or "127.0.0.1"
        headers["X-Request-Id"] = str(uuid.uuid4())
        if entry.spec.user_api_scopes:
            headers["X-Forwarded-Access-Token"] = record.token
        upstream = entry.spec.upstream.rstrip("/") + route
        query = request.query_string.decode("latin-1")
        try:
            with requests.Session() as http:
                http.trust_env = False  # the upstream is the developer's local server: no proxy
                answer = http.request(
                    request.method,
                    upstream + (f"?{query}" if query else ""),
                    headers=headers,
                    data=request.get_data(),
                    allow_redirects=False,
                    timeout=60,
                )
        except requests.RequestException as exc:
            message = f"The app {name} is not answering at {entry.spec.upstream} ({type(exc).__name__})."
            return jsonify(error_code="BAD_GATEWAY", message=message), 502
        store.stats.incr("app_requests_forwarded")
        kept = [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP | {"content-encoding"}]
        return Response(answer.content, status=answer.status_code, headers=kept)

    return front
