"""Hand-offs to Python HTTP clients: a requests auth and a databricks-sdk credentials strategy.

Both ask :func:`scopedauth.get_token` on every request (a dictionary lookup while the token is
fresh), so a long-running program never holds a stale token. databricks-sdk is imported only
inside :func:`credentials_strategy`: it costs most of a second.
"""

from __future__ import annotations

from typing import Any

import requests

from . import session
from .config import Target

__all__ = ["BearerAuth", "credentials_strategy"]


class BearerAuth(requests.auth.AuthBase):
    """``requests`` auth: the target's bearer token; on a 401, refresh once and retry once.

    ``BearerAuth(host=…, scopes=…)`` takes :func:`scopedauth.get_token`'s keywords.
    """

    def __init__(self, target: Target | None = None, **options: Any) -> None:
        self._target = target
        self._options = options

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = session.get_token(self._target, **self._options)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        request.register_hook("response", self._retry_on_401)  # type: ignore[no-untyped-call]
        return request

    def _retry_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, "_scopedauth_retried", False):
            return response
        if request.body is not None and hasattr(request.body, "read"):
            return response  # a streamed body cannot be sent twice
        rejected = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        options = {k: v for k, v in self._options.items() if k not in ("interactive", "say", "login_options")}
        fresh = session.renew(self._target, rejected=rejected, **options)
        response.content  # noqa: B018  (drain so the connection can be reused)
        response.close()
        retry = request.copy()
        retry.headers["Authorization"] = f"Bearer {fresh.access_token}"
        retry._scopedauth_retried = True  # type: ignore[attr-defined]
        new = response.connection.send(retry, **kwargs)
        new.history.append(response)
        new.request = retry
        return new

    def __repr__(self) -> str:
        return f"BearerAuth(target={self._target.key if self._target else None!r})"


def credentials_strategy(target: Target | None = None, **options: Any) -> Any:
    """A databricks-sdk ``OauthCredentialsStrategy`` serving scopedauth's scoped token.

    ``WorkspaceClient(host=…, credentials_strategy=scopedauth.credentials_strategy(scopes=[…]))``;
    ``config.oauth_token()`` then returns the scoped token. The host defaults to the SDK
    config's host.
    """
    from databricks.sdk.credentials_provider import OAuthCredentialsProvider, OauthCredentialsStrategy
    from databricks.sdk.oauth import Token as SdkToken

    def provider(cfg: Any) -> OAuthCredentialsProvider:
        opts = dict(options)
        if target is None and not opts.get("host") and not opts.get("profile"):
            opts["host"] = cfg.host
        if (
            target is None
            and opts.get("account_id") is None
            and getattr(cfg, "account_id", None)
            and str(cfg.host or "").split("//")[-1].startswith("accounts.")
        ):
            opts["account_id"] = cfg.account_id

        def sdk_token() -> SdkToken:
            tok = session.get_token(target, **opts)
            return SdkToken(access_token=tok.access_token, token_type=tok.token_type, expiry=tok.expiry)

        def headers() -> dict[str, str]:
            tok = session.get_token(target, **opts)
            return {"Authorization": f"Bearer {tok.access_token}"}

        sdk_token()  # fail at WorkspaceClient() time, with our message, if nothing is stored
        return OAuthCredentialsProvider(headers, sdk_token)

    return OauthCredentialsStrategy("scopedauth", provider)
