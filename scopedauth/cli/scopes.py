"""(pure) The Databricks OAuth scope names we know, and a typo hint for the ones we do not.

The server decides which scopes exist, and Databricks adds new ones, so an unknown name is
never rejected here: it is passed through as given. A name that is one or two keystrokes away
from a known one (``dashboard.genie``) gets a hint on stderr, because the server's reaction to a
misspelt scope is a token that silently lacks it and a 403 much later.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = ["KNOWN_SCOPES", "hints_for", "typo_hints"]

#: name → what it grants (Databricks docs: OAuth U2M, Apps user authorization, API scopes)
KNOWN_SCOPES: dict[str, str] = {
    "all-apis": "every REST API the user may call (what the Databricks CLI asks for)",
    "sql": "SQL warehouses and the SQL statement execution APIs",
    "files.files": "files and directories in volumes and the workspace (Files API)",
    "file.files": "the spelling of files.files some docs use; the server decides which it accepts",
    "dashboards.genie": "Genie spaces and conversations",
    "iam.current-user:read": "read the signed-in user (SCIM Me)",
    "iam.access-control:read": "read permissions (access control lists)",
    "serving.serving-endpoints": "query and manage model serving endpoints",
    "vectorsearch.vector-search-endpoints": "vector search endpoints",
    "vectorsearch.vector-search-indexes": "vector search indexes",
    "catalog.connections": "Unity Catalog connections",
    "catalog.catalogs:read": "read Unity Catalog catalogs",
    "catalog.schemas:read": "read Unity Catalog schemas",
    "catalog.tables:read": "read Unity Catalog tables",
    "dashboards": "AI/BI (Lakeview) dashboards",
    "alerts": "Databricks SQL alerts",
    "apps": "Databricks Apps management (list, deploy, start, stop)",
    "access-management": "users, service principals, groups and their permissions",
    "offline_access": "a refresh token (scopedauth adds it unless --no-refresh-token)",
    "openid": "OpenID Connect: an ID token",
    "email": "OpenID Connect: the email claim",
    "profile": "OpenID Connect: the profile claims",
}


def _access_variant(scope: str, known: str) -> bool:
    """``catalog.tables:write`` beside ``catalog.tables:read``: another access level, not a typo."""
    return ":" in scope and ":" in known and scope.split(":", 1)[0] == known.split(":", 1)[0]


def typo_hints(requested: Iterable[str]) -> list[str]:
    """One hint per requested scope that is unknown but close to a known one.

    Never an error: the caller prints the lines and goes on with the scopes as given.
    """
    hints = []
    for scope in requested:
        if scope in KNOWN_SCOPES:
            continue
        close = difflib.get_close_matches(scope, KNOWN_SCOPES, n=1, cutoff=0.8)
        if close and _access_variant(scope, close[0]):
            continue
        if close:
            hints.append(f"scopedauth: hint: {scope!r} is not a scope scopedauth knows; did you mean {close[0]!r}?")
    return hints


def hints_for(value: str | None) -> list[str]:
    """:func:`typo_hints` for a ``--scopes`` value as typed (comma- or space-separated)."""
    return typo_hints(s for s in re.split(r"[,\s]+", value or "") if s)
