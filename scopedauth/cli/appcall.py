"""``call`` and Databricks Apps: the app's URL for relative paths, and its configuration on failure.

Kept apart from :mod:`scopedauth.cli.handoff` so ``call``'s request code stays about HTTP.
"""

from __future__ import annotations

from typing import Any

from ..config import Target
from ..errors import LoginRequiredError, ScopedAuthError

__all__ = ["app_check", "app_url"]


def app_url(options: dict[str, Any], store: Any) -> str | None:
    """The URL of the ``--app`` (cached when its target was resolved), to join relative paths to."""
    from ..grants import apps, session

    ref = options.get("app")
    if not ref:
        return None
    if "://" in ref:
        return apps.origin(ref)
    info = apps.cached(session.store_for(store), apps.base_target(options), ref)  # type: ignore[arg-type]
    return info.url if info is not None and info.url else None


def app_check(
    url: str, status: int, target: Target, granted: tuple[str, ...], options: dict[str, Any], store: Any
) -> list[str]:
    """On 401/403/404 from an app: read its configuration again (refreshing the cache) and compare."""
    from ..grants import apps, session
    from ..handoff.appcheck import app_lines

    if status not in (401, 403, 404) or apps.origin(url) == target.host:
        return []
    st = session.store_for(store)
    base = Target(target.host, target.client_id, (), target.account_id, target.profile)
    ref = options.get("app") or apps.origin(url)
    try:
        info = apps.refresh(base, ref, st, lambda t: session.get_token(t, store=st))
    except LoginRequiredError:
        return [
            "To also compare the app's own configuration (state, required scopes), scopedauth needs a token "
            f"that may read the Apps API: scopedauth login --host {target.host}"
        ]
    except ScopedAuthError as exc:
        return [f"Could not read the app's configuration to say more: {exc}"]
    fix = apps.login_command(base, info.name or ref, options.get("refresh_token"))
    return app_lines(info, url, granted, fix)
