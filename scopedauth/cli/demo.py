"""``scopedauth demo``: the whole story against the bundled sandbox, on any machine.

Starts the sandbox, runs the real login (real listener, real exchange, real store), calls the
sample app with the token (200), shows the 403 a Databricks App gives for a scope that was not
granted, then logs in for the fronted app ``hello`` by name (``--app``: the scopes are read
from the Apps API, not typed) and calls it through the sandbox's front, which forwards the
signed-in user as Databricks Apps does; and prints the same commands for a real workspace. Without a browser (or with
``--headless``) the demo plays the user on the sandbox consent page itself, and says so.
The narrative goes to stderr; stdout gets one JSON summary line for scripts and tests.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from typing import Any

from ..config import Target
from ..errors import StorageError
from ..grants import manage, session
from ..oauth import browser, transport
from ..storage.store import TokenStore, open_store
from ..tokens import Token

__all__ = ["logout_note", "run_demo"]

DEMO_SCOPES = ("files.files", "offline_access", "sql")


def _pick_store(storage: str | None, say: Callable[[str], None]) -> TokenStore:
    """The user's choice, else the OS keyring if one answers, else memory (and say why)."""
    if storage:
        return open_store(storage)
    store = open_store("keyring")
    try:
        store.keys()
        return store
    except StorageError as exc:
        say(f"No usable OS keyring here ({str(exc).split(';')[0].split('. ')[0]}).")
        say("The demo keeps its token in memory instead; real logins would need a keyring or --storage file.")
        return open_store("memory")


def _scripted_user(sandbox: Any, say: Callable[[str], None]) -> Callable[[str], bool]:
    """An opener that clicks Allow on the sandbox consent page and follows the redirect."""

    def open_(url: str) -> bool:
        def run() -> None:
            import requests

            location = sandbox.approve_url(url)
            requests.get(location, **transport.request_kwargs(location))

        say("No browser here (or --headless): the demo signs in as the sandbox's demo user and clicks Allow.")
        threading.Thread(target=run, name="scopedauth-demo-user", daemon=True).start()
        return True

    return open_


def logout_note(results: list[manage.LogoutResult], store_name: str) -> str:
    """What the demo's clean-up did, as it happened (revoked or not, removed or not)."""
    revoked = any(r.revoked for r in results)
    deleted = any(r.deleted for r in results)
    if revoked and deleted:
        return f"The demo's sandbox token was revoked and removed from {store_name}."
    if deleted:
        return f"The demo's sandbox token was removed from {store_name}; the sandbox did not confirm revoking it."
    if revoked:
        return f"The demo's sandbox token was revoked; {store_name} no longer held it."
    return f"The demo's sandbox token was neither revoked nor found in {store_name}."


def _call(url: str, target: Target, store: TokenStore) -> tuple[int, str]:
    import requests

    resp = requests.get(url, headers=session.headers(target, store=store), **transport.request_kwargs(url))
    return resp.status_code, resp.text.strip()


def _free_or_other(port: int, say: Callable[[str], None]) -> int:
    """The demo registers its own redirect URI, so a busy port just means: take another."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return port
        except OSError:
            probe.bind(("127.0.0.1", 0))
            other = int(probe.getsockname()[1])
    say(f"Port {port} is busy; the demo's sandbox registers http://localhost:{other} instead.")
    return other


def _app_steps(
    sandbox: Any, store: TokenStore, port: int, opener: Callable[[str], bool] | None, say: Callable[[str], None]
) -> tuple[Token, int, str]:
    """Steps 4-5: ``login --app hello`` finds the scopes; the fronted app sees the signed-in user."""
    say("\n4. Log in for the Databricks App `hello` by name: scopedauth reads its scopes from the Apps API")
    say(f"   (scopedauth login --host {sandbox.url} --app hello):")
    token = manage.login(
        store=store, say=lambda m: say(f"   {m}"), port=port, timeout=120, opener=opener, host=sandbox.url, app="hello"
    )
    say(f"   Granted: {' '.join(token.granted_scopes)}")
    say(f"\n5. Call the fronted app at {sandbox.app_urls['hello']}/api/whoami: the sandbox checks the token")
    say("   and forwards the request with X-Forwarded-Email and X-Forwarded-Access-Token, as Databricks Apps does:")
    status, body = _call(f"{sandbox.app_urls['hello']}/api/whoami", token.target, store)
    say(f"   HTTP {status}: {body[:200]}")
    return token, status, body


def _clean_up(sandbox_url: str, targets: list[Target], store: TokenStore, say: Callable[[str], None]) -> None:
    """Log out of every grant the demo made (never anything else in the store) and drop its app answer."""
    from ..grants import apps

    results = [r for target in targets for r in manage.logout(target, store=store, revoke=True)]
    with contextlib.suppress(StorageError):
        store.backend.delete(apps.cache_key(Target(host=sandbox_url), "hello"))
    say("\n" + logout_note(results, store.name))


def run_demo(
    *, headless: bool, storage: str | None, port: int, say: Callable[[str], None], out: Callable[[str], None]
) -> dict[str, Any]:
    from ..sandbox import AppSpec, Sandbox, SandboxConfig
    from ..sandbox.hello import HelloServer

    port = _free_or_other(port, say)
    with HelloServer() as hello:
        config = SandboxConfig(
            redirect_uris={"databricks-cli": [f"http://localhost:{port}"]}, apps=[AppSpec("hello", hello.url, ["sql"])]
        )
        with Sandbox(config) as sandbox:
            say(f"Sandbox workspace running at {sandbox.url} (sample Databricks App at {sandbox.app_url};")
            say(f"the app `hello` fronted at {sandbox.app_urls['hello']}, as `scopedauth sandbox --app` does).")
            store = _pick_store(storage, say)
            say(f"Tokens will be stored in: {store.name}")
            target = Target(host=sandbox.url, scopes=DEMO_SCOPES)
            scripted = headless or not browser.can_open()
            opener = _scripted_user(sandbox, say) if scripted else None
            say(f"\n1. Log in with custom scopes: {' '.join(s for s in DEMO_SCOPES if s != 'offline_access')}")
            token = manage.login(target, store=store, say=say, port=port, timeout=120, opener=opener)
            say(f"   Signed in as the demo user; granted: {' '.join(token.granted_scopes)}")
            made = [target, Target(sandbox.url, scopes=("all-apis", "offline_access"))]
            try:
                say("\n2. Call the app's /api/hello route, which needs `sql`:")
                ok_status, ok_body = _call(f"{sandbox.app_url}/api/hello", target, store)
                say(f"   HTTP {ok_status}: {ok_body[:200]}")
                say("\n3. Call /api/genie, which needs `dashboards.genie` (not granted):")
                denied_status, denied_body = _call(f"{sandbox.app_url}/api/genie", target, store)
                say(f"   HTTP {denied_status}: {denied_body[:200]}")
                say('   Fix: log in again with the missing scope, e.g. --scopes "sql files.files dashboards.genie".')
                app_token, fronted_status, _ = _app_steps(sandbox, store, port, opener, say)
                made.append(app_token.target)
            finally:
                _clean_up(sandbox.url, made, store, say)
    say(
        "\nAgainst a real workspace:\n"
        "  scopedauth login --host https://<workspace>.cloud.databricks.com --app <app-name>\n"
        "  scopedauth call --host https://<workspace>.cloud.databricks.com --app <app-name> /api/…\n"
        "  scopedauth token --host https://<workspace>.cloud.databricks.com --app <app-name>\n"
        'Developing an app: scopedauth sandbox --app NAME=http://localhost:8000 --app-scopes "sql"'
    )
    summary = {
        "store": store.name,
        "login": "ok",
        "granted_scopes": list(token.granted_scopes),
        "app_status": ok_status,
        "missing_scope_status": denied_status,
        "app_scopes": list(app_token.target.scopes),
        "fronted_app_status": fronted_status,
        "scripted_user": scripted,
    }
    out(json.dumps(summary))
    return summary
