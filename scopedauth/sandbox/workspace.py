"""The workspace host: OIDC discovery, authorize/consent, token, revoke, and SCIM ``Me``.

Every OIDC route exists twice: under ``/oidc`` (workspace realm) and under
``/oidc/accounts/<account_id>`` (account realm; any other account id is a 404).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749 import AccessDeniedError, OAuth2Error
from flask import Flask, Response, abort, jsonify, request

from . import pages
from .config import WORKSPACE_ID
from .records import User, normalize_scope
from .server import RealmServer
from .state import Store

#: the authorize parameters carried through the consent form
AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
_GRANT_COUNTERS = {
    "authorization_code": "code_exchanges",
    "refresh_token": "refreshes",
    "client_credentials": "client_credentials",
    "urn:ietf:params:oauth:grant-type:token-exchange": "token_exchanges",
}
_INJECTED_ERRORS = {500: "server_error", 429: "slow_down"}


def bearer_token(header: str | None) -> str | None:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def unauthenticated(message: str) -> tuple[Response, int]:
    return jsonify(error_code="UNAUTHENTICATED", message=message), 401


def scim_user(user: User) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": user.id,
        "userName": user.username,
        "displayName": user.display_name,
        "active": True,
        "emails": [{"type": "work", "value": user.username, "primary": True}],
        "groups": [{"display": "users", "type": "direct"}],
    }


class WorkspaceViews:
    def __init__(self, store: Store, workspace: RealmServer, account: RealmServer) -> None:
        self.store = store
        self.workspace = workspace
        self.account = account

    def realm(self, account_id: str | None) -> RealmServer:
        if account_id is None:
            return self.workspace
        if account_id != self.store.config.account_id:
            abort(404)
        return self.account

    def discovery(self, account_id: str | None = None) -> Response:
        return jsonify(self.realm(account_id).metadata())

    def jwks(self, account_id: str | None = None) -> Response:
        self.realm(account_id)
        return jsonify(keys=[])

    def databricks_config(self) -> Response:
        return jsonify(
            oidc_endpoint=self.workspace.issuer(),
            workspace_id=WORKSPACE_ID,
            account_id=self.store.config.account_id,
        )

    def authorize(self, account_id: str | None = None) -> Response:
        server = self.realm(account_id)
        if request.method == "GET":
            self.store.stats.incr("authorize_requests")
        else:
            realm_fields = self.store.close_consent(request.form.get("csrf_token", ""), server.realm.key)
            if realm_fields is None:
                return pages.error_page("invalid_request", "This sign-in request expired or was already used.")
            posted = [(k, request.form[k]) for k in AUTHORIZE_FIELDS if k in request.form]
            if posted != realm_fields or request.args:
                return pages.error_page("invalid_request", "The sign-in form was altered.")
        try:
            grant = server.get_consent_grant(end_user=self.store.user)
        except OAuth2Error as error:
            if error.redirect_uri:
                response: Response = server.handle_error_response(None, error)
                return response
            return pages.error_page(str(error.error), str(error.description or ""))
        if request.method == "GET" and self.store.config.auto_approve:  # CI: nobody to click Allow
            approved: Response = server.create_authorization_response(grant=grant, grant_user=self.store.user)
            return approved
        if request.method == "GET":
            fields = [(k, request.args[k]) for k in AUTHORIZE_FIELDS if k in request.args]
            return pages.consent_page(
                realm=server.realm.title,
                user=self.store.user.username,
                client_id=grant.client.client_id,
                redirect_uri=grant.redirect_uri,
                scopes=normalize_scope(grant.request.scope).split(),
                action=request.path,
                fields=fields,
                csrf_token=self.store.open_consent(server.realm.key, fields),
            )
        decision = request.form.get("decision")
        if decision == "allow":
            response = server.create_authorization_response(grant=grant, grant_user=self.store.user)
            return response
        if decision == "deny":
            denied = AccessDeniedError(
                description="The user denied the request",
                redirect_uri=grant.redirect_uri,
                state=request.form.get("state"),
            )
            response = server.handle_error_response(None, denied)
            return response
        return pages.error_page("invalid_request", "Choose Allow or Deny.")

    def token(self, account_id: str | None = None) -> Response | tuple[Response, int]:
        server = self.realm(account_id)
        self.store.stats.incr("token_requests")
        if self.store.config.token_delay > 0:
            time.sleep(self.store.config.token_delay)
        status = self.store.take_failure()
        if status is not None:
            error = _INJECTED_ERRORS.get(status, "temporarily_unavailable")
            description = f"Injected failure ({status}) from the sandbox; try again."
            return jsonify(error=error, error_description=description), status
        with self.store.lock:  # validate, issue and rotate as one step
            response: Response = server.create_token_response()
        counter = _GRANT_COUNTERS.get(request.form.get("grant_type", ""))
        if counter == "refreshes" and response.status_code != 200:
            self.store.stats.incr("refresh_failures")
        elif counter and response.status_code == 200:
            self.store.stats.incr(counter)
        return response

    def revoke(self, account_id: str | None = None) -> Response:
        server = self.realm(account_id)
        with self.store.lock:
            response: Response = server.create_endpoint_response("revocation")
        if response.status_code == 200:
            self.store.stats.incr("revocations")
        return response

    def scim_me(self) -> Response | tuple[Response, int]:
        record, problem = self.store.check_access(
            bearer_token(request.headers.get("Authorization")), self.workspace.realm.key
        )
        if record is None:
            return unauthenticated(problem)
        return jsonify(scim_user(record.user))


def create_workspace_app(store: Store, workspace: RealmServer, account: RealmServer) -> Flask:
    app = Flask("scopedauth.sandbox.workspace")
    views = WorkspaceViews(store, workspace, account)
    oidc: list[tuple[str, Callable[..., Any], list[str]]] = [
        ("/.well-known/oauth-authorization-server", views.discovery, ["GET"]),
        ("/jwks.json", views.jwks, ["GET"]),
        ("/v1/authorize", views.authorize, ["GET", "POST"]),
        ("/v1/token", views.token, ["POST"]),
        ("/v1/revoke", views.revoke, ["POST"]),
    ]
    for suffix, view, methods in oidc:
        name = view.__name__
        app.add_url_rule("/oidc" + suffix, f"ws_{name}", view, methods=methods)
        app.add_url_rule("/oidc/accounts/<account_id>" + suffix, f"acct_{name}", view, methods=methods)
    app.add_url_rule("/.well-known/databricks-config", "databricks_config", views.databricks_config)
    app.add_url_rule("/api/2.0/preview/scim/v2/Me", "scim_me", views.scim_me)

    @app.errorhandler(404)
    def not_found(_error: Exception) -> tuple[Response, int]:
        return jsonify(error_code="ENDPOINT_NOT_FOUND", message=f"No API found for '{request.path}'"), 404

    @app.errorhandler(405)
    def not_allowed(_error: Exception) -> tuple[Response, int]:
        return jsonify(error_code="BAD_REQUEST", message=f"{request.method} is not allowed here"), 405

    return app
