"""(pure) What an app's own configuration says about a failed call to it.

``scopedauth call`` on an app URL answered 401, 403 or 404: :func:`app_lines` compares the
app's configuration (read from the Apps API by :mod:`scopedauth.grants.apps`) with the call:
whether the app is RUNNING, its required scopes against the token's, and whether the path is
under ``/api/`` (the only routes that take bearer tokens). Each line is a fact or a command.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..config import OFFLINE_ACCESS
from ..grants.apps import AppInfo

__all__ = ["app_lines"]


def app_lines(info: AppInfo, url: str, granted: tuple[str, ...], fix: str) -> list[str]:
    """Lines for a person; ``fix`` is the ``scopedauth login … --app NAME`` command."""
    lines = []
    if info.state and info.state != "RUNNING":
        lines.append(
            f"App {info.name} is {info.state}, not RUNNING: start or redeploy it "
            f"(databricks apps start {info.name}); until then it answers nobody."
        )
    else:
        lines.append(f"App {info.name} is {info.state or 'in an unknown state'} (from the workspace's Apps API).")
    have = tuple(s for s in granted if s != OFFLINE_ACCESS)
    if info.scopes:
        missing = [s for s in info.scopes if s not in granted]
        lines.append(f"App {info.name} requires scopes: {' '.join(info.scopes)}")
        lines.append(f"The token has: {' '.join(have) or '(not stated by the server)'}")
        if missing:
            lines.append(f"Missing: {' '.join(missing)}. Fix: {fix}")
        else:
            lines.append("The token has every scope the app requires.")
    else:
        lines.append(
            f"App {info.name} does not use user authorization: any token of yours works if you have CAN USE on it."
        )
    path = urlsplit(url).path or "/"
    if not path.startswith("/api/"):
        lines.append(f"{path} is not under /api/: an app takes bearer tokens only on its /api/ routes.")
    return lines
