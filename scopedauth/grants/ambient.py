"""Client credentials in the environment: a job's or app's identity, never a silent substitute.

Databricks jobs and apps run with ``DATABRICKS_HOST``, ``DATABRICKS_CLIENT_ID`` and
``DATABRICKS_CLIENT_SECRET`` set and usually no OS keyring. There scopedauth behaves like the
SDK's oauth-m2m: the minted token is kept in the OS keyring when one works, else in this
process's memory (:func:`default_store`).

The same variables on a developer's machine must not turn their own commands into the service
principal's: ``DATABRICKS_CLIENT_ID`` makes every target that does not name a client that
service principal's, so a stored user grant for the same host (and the same scopes, when given)
wins (:func:`stored_user_grant`). Only when nothing stored matches is the service principal
used, and then it is said once per process (:func:`note_service_principal`).

No heavy imports: this runs on ``scopedauth token``'s path in such environments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..config import Target
from ..errors import ConfigError, StorageError
from ..storage.store import TokenStore, open_store

__all__ = ["ambient_client", "default_store", "note_service_principal", "stored_user_grant"]

_said: set[str] = set()


def ambient_client(env: Mapping[str, str] | None = None) -> str | None:
    """``DATABRICKS_CLIENT_ID`` when ``DATABRICKS_CLIENT_SECRET`` is set beside it, else None."""
    env = os.environ if env is None else env
    client = env.get("DATABRICKS_CLIENT_ID", "").strip()
    return client if client and env.get("DATABRICKS_CLIENT_SECRET", "").strip() else None


def default_store() -> TokenStore:
    """The OS keyring; with ambient client credentials and no usable keyring, this process's memory."""
    store = open_store("keyring")
    if ambient_client() is None:
        return store
    try:
        store.keys()
    except StorageError as exc:
        from ..log import logger

        logger().debug("no usable keyring (%s); service principal tokens are kept in memory", exc)
        return open_store("memory")
    return store


def _user_grants(st: TokenStore, target: Target) -> list[Target]:
    found = []
    for stored in st.targets():
        if (stored.host, stored.account_id) != (target.host, target.account_id) or stored.client_id == target.client_id:
            continue
        if target.scopes and stored.scopes != target.scopes:
            continue
        try:
            token = st.load(stored)
        except StorageError:
            continue
        if token is not None and token.grant is None:  # a person's login, not another robot
            found.append(stored)
    return found


def stored_user_grant(st: TokenStore, target: Target) -> Target | None:
    """The one stored user grant ``target`` (whose client came from the environment) should be.

    ConfigError when several match and no scopes say which: neither guessing one nor falling
    back to the service principal would be what the person meant.
    """
    try:
        found = _user_grants(st, target)
    except StorageError:
        return None
    if len(found) > 1:
        options = "\n".join(f"  --scopes '{' '.join(t.scopes)}'" for t in found)
        raise ConfigError(
            f"several scope sets are stored for {target.host}; pick one with --scopes, or --client-id "
            f"{target.client_id} for the service principal in DATABRICKS_CLIENT_ID:\n{options}"
        )
    if not found:
        return None
    mine = found[0]
    return Target(mine.host, mine.client_id, mine.scopes, mine.account_id, target.profile)


def note_service_principal(client_id: str) -> None:
    """Say once per process that the environment's service principal is the identity in use."""
    if client_id in _said:
        return
    _said.add(client_id)
    from ..log import logger

    logger().warning("as service principal %s (from DATABRICKS_CLIENT_ID)", client_id)
