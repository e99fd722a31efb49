"""``--app NAME|URL``: the scopes a Databricks App needs, read from the workspace's Apps API.

A user calling an app's ``/api/`` routes needs a token with exactly the app's user-authorization
scopes. Rather than have them typed, they are read from the app's configuration:
``GET /api/2.0/apps/{name}`` for a name, or the paged ``GET /api/2.0/apps`` matched on ``url``
for an app URL; ``effective_user_api_scopes`` (what Databricks enforces), else
``user_api_scopes``.

Reading the Apps API takes a token that may read it: a stored grant of the workspace with
``all-apis``, else (``login``) an ``all-apis`` login first, said on stderr; ``token``, ``env``,
``exec`` and ``call`` never open a browser and name the login instead.

The answer is cached in the same store as the grants, under its own key next to them,
``<host>[/accounts/<id>]|<client_id>|#app:<NAME or URL>`` (JSON ``{"version": 1, "name", "url",
"user_api_scopes", "effective_user_api_scopes", "state"}``; no token), so ``token --app X``
stays on the hot path: two store reads, no network. :func:`refresh` replaces it when the app
refuses its token (403: the owner changed the scopes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urlsplit

from ..config import DEFAULT_CLIENT_ID, OFFLINE_ACCESS, Target, TargetOptions, parse_scopes, resolve_target
from ..errors import ConfigError, LoginRequiredError, ScopedAuthError, StorageError
from ..storage.store import TokenStore
from ..tokens import Token

if TYPE_CHECKING:
    import requests

__all__ = [
    "APPS_API_SCOPE",
    "AppInfo",
    "app_target",
    "base_target",
    "cache_key",
    "cached",
    "fetch",
    "lookup",
    "origin",
    "reader_target",
    "refresh",
]

#: the scope that may read the Apps API
APPS_API_SCOPE = "all-apis"
_FORMAT = 1
Reader = Callable[[Target], Token]


class AppInfo(NamedTuple):
    """What scopedauth needs to know about one app (no secrets). A NamedTuple: no dataclasses
    import on ``token --app``'s hot path."""

    name: str
    url: str
    user_api_scopes: tuple[str, ...] = ()
    effective_user_api_scopes: tuple[str, ...] = ()
    state: str = ""

    @property
    def scopes(self) -> tuple[str, ...]:
        """What a user's token must carry: the effective scopes, else the configured ones."""
        return self.effective_user_api_scopes or self.user_api_scopes

    @classmethod
    def from_api(cls, doc: dict[str, Any]) -> AppInfo:
        status = doc.get("app_status") if isinstance(doc.get("app_status"), dict) else {}
        return cls(
            name=str(doc.get("name") or ""),
            url=str(doc.get("url") or "").rstrip("/"),
            user_api_scopes=_scopes(doc.get("user_api_scopes")),
            effective_user_api_scopes=_scopes(doc.get("effective_user_api_scopes")),
            state=str((status or {}).get("state") or ""),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": _FORMAT,
                "name": self.name,
                "url": self.url,
                "user_api_scopes": list(self.user_api_scopes),
                "effective_user_api_scopes": list(self.effective_user_api_scopes),
                "state": self.state,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> AppInfo | None:
        """None for anything that is not a v1 entry (it is then fetched again and overwritten)."""
        try:
            data = json.loads(text)
            if data.get("version") != _FORMAT:
                return None
            return cls.from_api({**data, "app_status": {"state": data.get("state")}})
        except (ValueError, AttributeError, ConfigError):
            return None


def _scopes(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return parse_scopes([str(v) for v in value])


def origin(url: str) -> str:
    """``scheme://host[:port]`` of an app URL, lower case: how app URLs are compared."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def _is_url(ref: str) -> bool:
    return "://" in ref


def cache_key(base: Target, ref: str) -> str:
    """The store key of the cached answer for app ``ref`` (a name, or a URL's origin)."""
    where = base.host + (f"/accounts/{base.account_id}" if base.account_id else "")
    return f"{where}|{base.client_id}|#app:{origin(ref) if _is_url(ref) else ref}"


def cached(st: TokenStore, base: Target, ref: str) -> AppInfo | None:
    try:
        text = st.backend.get(cache_key(base, ref))
    except StorageError:
        return None
    return AppInfo.from_json(text) if text else None


def _remember(st: TokenStore, base: Target, ref: str, info: AppInfo) -> None:
    try:
        st.backend.set(cache_key(base, ref), info.to_json())
    except StorageError as exc:  # the answer is then read again next time; nothing is lost
        from ..log import logger

        logger().warning("could not cache app %s's scopes: %s", info.name, exc)


def base_target(options: TargetOptions) -> Target:
    """The workspace, client and account the app belongs to (``--scopes`` is not allowed with ``--app``)."""
    if options.get("scopes"):
        raise ConfigError("--app reads the app's scopes from the workspace; drop --scopes (or drop --app)")
    plain: TargetOptions = {**options, "scopes": None, "app": None}
    return resolve_target(**plain)


def reader_target(base: Target, st: TokenStore) -> Target:
    """A stored grant of this workspace that may read the Apps API, else the all-apis login's target."""
    for stored in st.targets():
        same = (stored.host, stored.client_id, stored.account_id) == (base.host, base.client_id, base.account_id)
        if same and APPS_API_SCOPE in stored.scopes:
            return Target(stored.host, stored.client_id, stored.scopes, stored.account_id, base.profile)
    return Target(base.host, base.client_id, (APPS_API_SCOPE, OFFLINE_ACCESS), base.account_id, base.profile)


def login_command(base: Target, ref: str, refresh_token: bool | None) -> str:
    """``scopedauth login … --app REF``: what signs the user in for the app (all-apis first if needed)."""
    import shlex

    if base.profile:
        words = ["scopedauth", "login", "--profile", base.profile]
    else:
        words = ["scopedauth", "login", "--host", base.host]
        if base.account_id:
            words += ["--account-id", base.account_id]
    if base.client_id != DEFAULT_CLIENT_ID:
        words += ["--client-id", base.client_id]
    words += ["--app", ref]
    if refresh_token is False:
        words.append("--no-refresh-token")
    return shlex.join(words)


def _get(url: str, token: Token) -> requests.Response:
    import requests

    from ..oauth import transport

    http = transport.new_session()
    try:
        return http.get(url, headers={"Authorization": f"Bearer {token.access_token}"}, **transport.request_kwargs(url))
    except requests.RequestException as exc:
        raise transport.network_error(exc, url) from None


def _message(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return " ".join(resp.text.split())[:300]
    return str(body.get("message") or body.get("error_description") or "")[:300] if isinstance(body, dict) else ""


def _check(resp: requests.Response, base: Target, token: Token, ref: str) -> None:
    if resp.status_code == 403:
        raise ConfigError(
            f"{base.host} refused to show its Apps API to the token with scopes "
            f"{' '.join(token.target.scopes)} (403: {_message(resp) or 'forbidden'}); reading app {ref}'s "
            f"scopes takes a token with {APPS_API_SCOPE} and a user who may see the app: "
            f"scopedauth login --host {base.host} --scopes {APPS_API_SCOPE}"
        )
    if resp.status_code == 401:
        raise LoginRequiredError(
            f"{base.host} refused the token used to read its Apps API (401)", token.target.login_command()
        )
    if resp.status_code >= 400:
        raise ConfigError(f"the Apps API of {base.host} answered {resp.status_code}: {_message(resp)}")


def _all_apps(base: Target, token: Token, ref: str) -> list[AppInfo]:
    apps: list[AppInfo] = []
    page = ""
    for _ in range(1000):  # a server that never stops paging must not hang us
        query = f"?page_token={quote(page)}" if page else ""
        resp = _get(f"{base.host}/api/2.0/apps{query}", token)
        _check(resp, base, token, ref)
        body = resp.json()
        apps += [AppInfo.from_api(doc) for doc in body.get("apps") or [] if isinstance(doc, dict)]
        page = str(body.get("next_page_token") or "")
        if not page:
            break
    return apps


def _unknown(base: Target, token: Token, ref: str, apps: list[AppInfo] | None) -> ConfigError:
    import difflib

    try:
        apps = _all_apps(base, token, ref) if apps is None else apps
    except ScopedAuthError:
        apps = []
    if _is_url(ref):
        shown = [a.url for a in apps][:5]
        return ConfigError(
            f"no app of {base.host} is served at {origin(ref)}"
            + (f"; the apps you can see are at: {', '.join(shown)}" if shown else "; you can see no apps there")
        )
    names = [a.name for a in apps]
    close = difflib.get_close_matches(ref, names, n=3, cutoff=0.5) or names[:5]
    hint = f"; did you mean: {', '.join(close)}?" if close else "; you can see no apps there"
    return ConfigError(f"no app named {ref!r} in {base.host}{hint}")


def fetch(base: Target, ref: str, token: Token) -> AppInfo:
    """Ask the Apps API (network). ConfigError (exit 2) for an unknown app, naming the closest."""
    if _is_url(ref):
        apps = _all_apps(base, token, ref)
        for app in apps:
            if app.url and origin(app.url) == origin(ref):
                return app
        raise _unknown(base, token, ref, apps)
    resp = _get(f"{base.host}/api/2.0/apps/{quote(ref, safe='')}", token)
    if resp.status_code == 404:
        raise _unknown(base, token, ref, None)
    _check(resp, base, token, ref)
    return AppInfo.from_api(resp.json())


def _reading_token(base: Target, ref: str, st: TokenStore, reader: Reader, refresh_token: bool | None) -> Token:
    target = reader_target(base, st)
    try:
        return reader(target)
    except LoginRequiredError as exc:
        raise LoginRequiredError(
            f"finding app {ref}'s scopes takes a token of {base.host} that may read the Apps API "
            f"({APPS_API_SCOPE}), and none is usable ({exc.args[0] if exc.args else exc})",
            login_command(base, ref, refresh_token),
        ) from None


def lookup(base: Target, ref: str, st: TokenStore, reader: Reader, *, refresh_token: bool | None = None) -> AppInfo:
    """The app's configuration: cached, else fetched with ``reader``'s token and cached."""
    info = cached(st, base, ref)
    if info is not None:
        return info
    return refresh(base, ref, st, reader, refresh_token=refresh_token)


def refresh(base: Target, ref: str, st: TokenStore, reader: Reader, *, refresh_token: bool | None = None) -> AppInfo:
    """Fetch the app's configuration again and replace the cached answer."""
    info = fetch(base, ref, _reading_token(base, ref, st, reader, refresh_token))
    _remember(st, base, ref, info)
    if info.name and info.name != ref:  # found by URL: the answer for its name is just as fresh
        _remember(st, base, info.name, info)
    return info


def app_target(
    options: TargetOptions,
    ref: str,
    st: TokenStore,
    reader: Reader,
    say: Callable[[str], None],
    *,
    fresh: bool = False,
) -> Target:
    """The target whose scopes are app ``ref``'s (plus ``offline_access`` unless refused).

    ``fresh`` (a login) reads the app's configuration again instead of trusting the cache, and
    says what it found. An app without user authorization takes any token of the user's (with
    CAN USE on the app): then the Apps API reader's own grant is the answer, and ``say`` explains.
    """
    base = base_target(options)
    refresh_token = options.get("refresh_token")
    info = (refresh if fresh else lookup)(base, ref, st, reader, refresh_token=refresh_token)
    if not info.scopes:
        target = reader_target(base, st)
        say(
            f"App {info.name} does not use user authorization (no user_api_scopes): any token of yours "
            f"works for it if you have CAN USE on it; using the {' '.join(target.scopes)} grant."
        )
        return target
    if fresh:
        which = "effective_user_api_scopes" if info.effective_user_api_scopes else "user_api_scopes"
        say(f"App {info.name} ({info.url or 'no URL yet'}) needs: {' '.join(info.scopes)} (its {which}).")
    scoped: TargetOptions = {**options, "scopes": info.scopes, "app": None}
    return resolve_target(**scoped)
