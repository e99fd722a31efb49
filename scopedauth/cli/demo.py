"""``scopedauth demo``: the whole story against the bundled sandbox, on any machine.

Starts the sandbox, runs the real login (real listener, real exchange, real store), calls the
sample app with the token (200), shows the 403 a Databricks App gives for a scope that was not
granted, and prints the same commands for a real workspace. Without a browser (or with
``--headless``) the demo plays the user on the sandbox consent page itself, and says so.
The narrative goes to stderr; stdout gets one JSON summary line for scripts and tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from ..config import Target
from ..errors import StorageError
from ..grants import manage, session
from ..oauth import browser, transport
from ..storage.store import TokenStore, open_store

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


def run_demo(
    *, headless: bool, storage: str | None, port: int, say: Callable[[str], None], out: Callable[[str], None]
) -> dict[str, Any]:
    from ..sandbox import Sandbox, SandboxConfig

    port = _free_or_other(port, say)
    config = SandboxConfig(redirect_uris={"databricks-cli": [f"http://localhost:{port}"]})
    with Sandbox(config) as sandbox:
        say(f"Sandbox workspace running at {sandbox.url} (sample Databricks App at {sandbox.app_url}).")
        store = _pick_store(storage, say)
        say(f"Tokens will be stored in: {store.name}")
        target = Target(host=sandbox.url, scopes=DEMO_SCOPES)
        scripted = headless or not browser.can_open()
        say(f"\n1. Log in with custom scopes: {' '.join(s for s in DEMO_SCOPES if s != 'offline_access')}")
        token = manage.login(
            target,
            store=store,
            say=say,
            port=port,
            timeout=120,
            opener=_scripted_user(sandbox, say) if scripted else None,
        )
        say(f"   Signed in as the demo user; granted: {' '.join(token.granted_scopes)}")
        try:
            say("\n2. Call the app's /api/hello route, which needs `sql`:")
            ok_status, ok_body = _call(f"{sandbox.app_url}/api/hello", target, store)
            say(f"   HTTP {ok_status}: {ok_body[:200]}")
            say("\n3. Call /api/genie, which needs `dashboards.genie` (not granted):")
            denied_status, denied_body = _call(f"{sandbox.app_url}/api/genie", target, store)
            say(f"   HTTP {denied_status}: {denied_body[:200]}")
            say('   Fix: log in again with the missing scope, e.g. --scopes "sql files.files dashboards.genie".')
        finally:
            say("\n" + logout_note(manage.logout(target, store=store, revoke=True), store.name))
    say(
        "\nAgainst a real workspace:\n"
        "  scopedauth login --host https://<workspace>.cloud.databricks.com \\\n"
        '      --scopes "sql files.files dashboards.genie"\n'
        "  scopedauth token --host https://<workspace>.cloud.databricks.com\n"
        '  curl -H "Authorization: Bearer $(scopedauth token --host …)" https://<app>.databricksapps.com/api/…'
    )
    summary = {
        "store": store.name,
        "login": "ok",
        "granted_scopes": list(token.granted_scopes),
        "app_status": ok_status,
        "missing_scope_status": denied_status,
        "scripted_user": scripted,
    }
    out(json.dumps(summary))
    return summary
