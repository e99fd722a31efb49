"""The databricks-sdk credentials strategy, which is also databricks-sql-connector's provider.

It asks :func:`scopedauth.get_token` on every request (a dictionary lookup while the token is
fresh), so a long-running program never holds a stale token. The SDK costs most of a second to
import, so :func:`credentials_strategy` imports it when called. ``BearerAuth`` (requests, httpx,
aiohttp) lives in :mod:`scopedauth.handoff.bearer` and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..config import StorageKind, Target, TargetOptions
from ..grants import session
from .bearer import BearerAuth

if TYPE_CHECKING:
    from typing import Unpack

    from ..storage.store import TokenStore

__all__ = ["BearerAuth", "credentials_strategy", "header_factory"]


def credentials_strategy(
    target: Target | None = None,
    *,
    store: TokenStore | StorageKind | None = None,
    **options: Unpack[TargetOptions],
) -> Any:
    """A databricks-sdk ``OauthCredentialsStrategy`` serving scopedauth's scoped token.

    ``WorkspaceClient(host=…, credentials_strategy=scopedauth.credentials_strategy(scopes=[…]))``;
    ``config.oauth_token()`` then returns the scoped token.

    The same object is databricks-sql-connector's ``credentials_provider``: called with no
    arguments (that connector's contract), it returns a header factory, a function returning
    ``{"Authorization": "Bearer …"}`` for the target named by ``options`` (pass ``host=`` or
    ``profile=``: the connector does not hand its host over). Unless told otherwise, the target
    is the SDK config's: its profile when it has one (so ``WorkspaceClient(profile="p", …)``
    and ``scopedauth token --profile p`` agree on host, client and scopes), else its host,
    client id and scopes; an ``accounts.*`` host takes the config's account id.

    Args:
        target: a resolved :class:`~scopedauth.Target`; else from ``options`` and the SDK config.
        store: a TokenStore or a storage kind (default ``SCOPEDAUTH_STORAGE``, else the keyring).
        **options: ``host``, ``profile``, ``account_id``, ``client_id``, ``scopes``,
            ``refresh_token`` (:class:`~scopedauth.TargetOptions`); each one given wins over
            the SDK config's.
    """
    from databricks.sdk.credentials_provider import OAuthCredentialsProvider, OauthCredentialsStrategy
    from databricks.sdk.oauth import Token as SdkToken

    def provider(cfg: Any) -> OAuthCredentialsProvider:
        opts: TargetOptions = {**options}
        if target is None and not opts.get("host") and not opts.get("profile"):
            if cfg.profile:
                opts["profile"] = cfg.profile
            elif cfg.host:
                opts["host"] = cfg.host
                # a client id that came with a client secret names the ambient service principal:
                # resolution decides, as for the CLI (a stored user grant wins; else it, said once)
                if cfg.client_id and not cfg.client_secret and not opts.get("client_id"):
                    opts["client_id"] = cfg.client_id
                if cfg.scopes and not opts.get("scopes"):
                    opts["scopes"] = cfg.scopes
        host = urlsplit(str(opts.get("host") or cfg.host or "")).hostname or ""
        if target is None and not opts.get("account_id") and cfg.account_id and host.startswith("accounts"):
            opts["account_id"] = cfg.account_id

        def sdk_token() -> SdkToken:
            tok = session.get_token(target, store=store, **opts)
            return SdkToken(access_token=tok.access_token, token_type=tok.token_type, expiry=tok.expiry)

        sdk_token()  # fail at WorkspaceClient() time, with our message, if nothing is stored
        return OAuthCredentialsProvider(lambda: session.headers(target, store=store, **opts), sdk_token)

    class Strategy(OauthCredentialsStrategy):
        """The SDK's strategy, which with no config (the SQL connector's call) gives a header factory."""

        def __call__(self, cfg: Any = None) -> Any:
            if cfg is not None:
                return super().__call__(cfg)
            return header_factory(target, store, options)

    return Strategy("scopedauth", provider)


def header_factory(
    target: Target | None, store: TokenStore | StorageKind | None, options: TargetOptions
) -> Callable[[], dict[str, str]]:
    """A function returning fresh headers on every call; asks once now so a missing grant fails at connect."""
    session.get_token(target, store=store, **options)
    return lambda: session.headers(target, store=store, **options)
