"""The workspace's Apps API, ``GET /api/2.0/apps[/{name}]``, for the sample and the fronted apps.

Shaped like Databricks' (``name``, ``url``, ``app_status.state``, ``compute_status``,
``user_api_scopes``, ``effective_user_api_scopes``, paging with ``page_size`` /
``page_token`` / ``next_page_token``), so scopedauth's ``--app`` lookup runs against it exactly
as against a real workspace. Reading it takes a token with ``all-apis``; another token gets 403.

As on Databricks, an app with user authorization gets ``iam.current-user:read`` and
``iam.access-control:read`` added to its effective scopes, which is why a client must prefer
``effective_user_api_scopes`` over ``user_api_scopes``.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request

from .config import SAMPLE_APP_NAME, WORKSPACE_ID, AppSpec
from .state import Store
from .workspace import bearer_token, unauthenticated

__all__ = ["APPS_API_SCOPE", "DEFAULT_APP_SCOPES", "PAGE_SIZE", "AppEntry", "AppsRegistry"]

#: the scope a token needs to read the Apps API
APPS_API_SCOPE = "all-apis"
#: what Databricks adds to every app that uses user authorization
DEFAULT_APP_SCOPES = ("iam.access-control:read", "iam.current-user:read")
#: small on purpose, so a client that does not follow ``next_page_token`` misses apps
PAGE_SIZE = 2


@dataclass
class AppEntry:
    """One app as the Apps API describes it; ``url`` is set once its port is bound."""

    spec: AppSpec
    url: str = ""

    @property
    def effective_scopes(self) -> list[str]:
        scopes = self.spec.user_api_scopes
        return sorted({*scopes, *DEFAULT_APP_SCOPES}) if scopes else []

    def to_json(self) -> dict[str, Any]:
        running = self.spec.state == "RUNNING"
        digest = hashlib.sha256(self.spec.name.encode("utf-8")).hexdigest()
        doc: dict[str, Any] = {
            "name": self.spec.name,
            "id": digest[:32],
            "url": self.url,
            "description": f"sandbox app {self.spec.name}",
            "app_status": {
                "state": self.spec.state,
                "message": "App has status: App is running" if running else f"App has status: {self.spec.state}",
            },
            "compute_status": {"state": "ACTIVE" if running else "STOPPED", "message": ""},
            "service_principal_client_id": f"app-{digest[:8]}",
            "service_principal_name": f"app-{self.spec.name}",
        }
        if self.spec.user_api_scopes:
            doc["user_api_scopes"] = list(self.spec.user_api_scopes)
            doc["effective_user_api_scopes"] = self.effective_scopes
        return doc


class AppsRegistry:
    """Every app the sandbox serves, by name; read by the Apps API and by each app's front."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        routes = store.config.app_scopes
        sample_scopes = sorted({s for scopes in routes.values() for s in scopes})
        self._entries: dict[str, AppEntry] = {SAMPLE_APP_NAME: AppEntry(AppSpec(SAMPLE_APP_NAME, "", sample_scopes))}
        for spec in store.config.apps:
            if spec.name in self._entries:
                raise ValueError(f"two sandbox apps are named {spec.name!r}")
            self._entries[spec.name] = AppEntry(spec)

    def get(self, name: str) -> AppEntry | None:
        with self._lock:
            return self._entries.get(name)

    def entries(self) -> list[AppEntry]:
        with self._lock:
            return [self._entries[name] for name in sorted(self._entries)]

    def set_state(self, name: str, state: str) -> None:
        with self._lock:
            self._entries[name].spec.state = state

    def set_scopes(self, name: str, scopes: list[str]) -> None:
        with self._lock:
            self._entries[name].spec.user_api_scopes = list(scopes)

    # -- the API --------------------------------------------------------------------------------
    def _caller(self) -> tuple[Response, int] | None:
        """None when the bearer may read the Apps API, else the error response."""
        self.store.stats.incr("apps_api_requests")
        record, problem = self.store.check_access(bearer_token(request.headers.get("Authorization")), "workspace")
        if record is None:
            return unauthenticated(problem)
        if APPS_API_SCOPE not in record.scopes:
            return jsonify(
                error_code="PERMISSION_DENIED",
                message=f"Provided OAuth token does not have required scopes: {APPS_API_SCOPE}",
            ), 403
        return None

    def get_view(self, name: str) -> Response | tuple[Response, int]:
        refused = self._caller()
        if refused is not None:
            return refused
        entry = self.get(name)
        if entry is None:
            return jsonify(
                error_code="RESOURCE_DOES_NOT_EXIST", message=f"App with name {name} does not exist or is deleted."
            ), 404
        return jsonify(entry.to_json())

    def list_view(self) -> Response | tuple[Response, int]:
        refused = self._caller()
        if refused is not None:
            return refused
        try:
            size = max(1, min(int(request.args.get("page_size") or PAGE_SIZE), PAGE_SIZE))
            start = int(request.args.get("page_token") or 0)
        except ValueError:
            return jsonify(error_code="INVALID_PARAMETER_VALUE", message="Bad page_size or page_token."), 400
        entries = self.entries()
        body: dict[str, Any] = {"apps": [e.to_json() for e in entries[start : start + size]]}
        if start + size < len(entries):
            body["next_page_token"] = str(start + size)
        return jsonify(body)

    def register(self, app: Flask) -> None:
        app.add_url_rule("/api/2.0/apps", "apps_list", self.list_view)
        app.add_url_rule("/api/2.0/apps/<name>", "apps_get", self.get_view)


def forwarded_user(username: str, user_id: str) -> dict[str, str]:
    """The identity headers a Databricks App receives for the signed-in user."""
    return {
        "X-Forwarded-Email": username,
        "X-Forwarded-User": f"{user_id}@{WORKSPACE_ID}",
        "X-Forwarded-Preferred-Username": username,
    }
