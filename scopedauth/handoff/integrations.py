"""Hand-offs to Python HTTP clients: a requests auth and a databricks-sdk credentials strategy.

Both ask :func:`scopedauth.get_token` on every request (a dictionary lookup while the token is
fresh), so a long-running program never holds a stale token. Neither requests nor databricks-sdk
is imported here at module level: requests accepts any callable as ``auth``, and the SDK costs
most of a second to import, so :func:`credentials_strategy` imports it when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..config import Target
from ..errors import ConfigError
from ..grants import session
from ..urls import is_loopback_host

if TYPE_CHECKING:
    import requests

__all__ = ["BearerAuth", "credentials_strategy"]

_GET_TOKEN_ONLY = ("interactive", "say", "login_options")


class BearerAuth:
    """``requests`` auth: the target's bearer token; on a 401, refresh once and retry once.

    ``requests.get(url, auth=BearerAuth(host=…, scopes=…))`` takes :func:`scopedauth.get_token`'s
    keywords. The retry happens only when the refused request carried our token (not after a
    redirect to another host, which requests strips it for), and only once: a second 401 is
    returned to the caller, who sees the first in ``response.history``. The token is never sent
    over plain http except to loopback.
    """

    def __init__(self, target: Target | None = None, **options: Any) -> None:
        self._target = target
        self._options = options

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(request.url or "")
        if parts.scheme != "https" and not is_loopback_host(parts.hostname):
            raise ConfigError(
                f"refusing to send a token over {parts.scheme or 'an unknown scheme'} to {parts.hostname}"
            )
        token = session.get_token(self._target, **self._options)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        request.register_hook("response", self._retry_on_401)  # type: ignore[no-untyped-call]
        return request

    def _retry_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, "_scopedauth_retried", False):
            return response
        sent = request.headers.get("Authorization") or ""
        if not sent.startswith("Bearer "):
            return response  # our header was stripped (cross-host redirect): not ours to retry
        if request.body is not None and not isinstance(request.body, (bytes, str)):
            return response  # a file, generator or iterator was consumed by the first send
        options = {k: v for k, v in self._options.items() if k not in _GET_TOKEN_ONLY}
        fresh = session.renew(self._target, rejected=sent.removeprefix("Bearer "), **options)
        response.content  # noqa: B018  (drain so the connection can be reused)
        response.close()
        retry = request.copy()
        retry.headers["Authorization"] = f"Bearer {fresh.access_token}"
        retry._scopedauth_retried = True  # type: ignore[attr-defined]
        new: requests.Response = response.connection.send(retry, **kwargs)
        new.history.append(response)
        new.request = retry
        return new

    def __repr__(self) -> str:
        return f"BearerAuth(target={self._target.key if self._target else None!r})"


def credentials_strategy(target: Target | None = None, **options: Any) -> Any:
    """A databricks-sdk ``OauthCredentialsStrategy`` serving scopedauth's scoped token.

    ``WorkspaceClient(host=…, credentials_strategy=scopedauth.credentials_strategy(scopes=[…]))``;
    ``config.oauth_token()`` then returns the scoped token. Unless told otherwise, the target
    is the SDK config's: its profile when it has one (so ``WorkspaceClient(profile="p", …)``
    and ``scopedauth token --profile p`` agree on host, client and scopes), else its host,
    client id and scopes; an ``accounts.*`` host takes the config's account id.
    """
    from databricks.sdk.credentials_provider import OAuthCredentialsProvider, OauthCredentialsStrategy
    from databricks.sdk.oauth import Token as SdkToken

    def provider(cfg: Any) -> OAuthCredentialsProvider:
        opts = dict(options)
        if target is None and not opts.get("host") and not opts.get("profile"):
            if cfg.profile:
                opts["profile"] = cfg.profile
            elif cfg.host:
                opts["host"] = cfg.host
                if cfg.client_id and not opts.get("client_id"):
                    opts["client_id"] = cfg.client_id
                if cfg.scopes and not opts.get("scopes"):
                    opts["scopes"] = cfg.scopes
        host = urlsplit(str(opts.get("host") or cfg.host or "")).hostname or ""
        if target is None and not opts.get("account_id") and cfg.account_id and host.startswith("accounts"):
            opts["account_id"] = cfg.account_id

        def sdk_token() -> SdkToken:
            tok = session.get_token(target, **opts)
            return SdkToken(access_token=tok.access_token, token_type=tok.token_type, expiry=tok.expiry)

        sdk_token()  # fail at WorkspaceClient() time, with our message, if nothing is stored
        return OAuthCredentialsProvider(lambda: session.headers(target, **opts), sdk_token)

    return OauthCredentialsStrategy("scopedauth", provider)
