"""An access-token-only databricks-sdk credentials strategy backed by the hosted store.

The SDK never sees a refresh token: every call asks the store for the visitor's current access
token (refreshed once across replicas by :mod:`scopedauth.hosted.refresh`), so no replica's
SDK ever rotates a token on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..tokens import Token

__all__ = ["credentials_strategy", "workspace_client"]


def credentials_strategy(fetch: Callable[[], Token]) -> Any:
    from databricks.sdk.credentials_provider import OAuthCredentialsProvider, OauthCredentialsStrategy
    from databricks.sdk.oauth import Token as SdkToken

    def provider(_cfg: Any) -> OAuthCredentialsProvider:
        def sdk_token() -> SdkToken:
            tok = fetch()
            return SdkToken(access_token=tok.access_token, token_type=tok.token_type, expiry=tok.expiry)

        def headers() -> dict[str, str]:
            return {"Authorization": f"Bearer {fetch().access_token}"}

        return OAuthCredentialsProvider(headers, sdk_token)

    return OauthCredentialsStrategy("scopedauth-hosted", provider)


def workspace_client(host: str, fetch: Callable[[], Token]) -> Any:
    """A ``WorkspaceClient`` acting as the visitor whose token ``fetch`` returns."""
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient(host=host, credentials_strategy=credentials_strategy(fetch))
