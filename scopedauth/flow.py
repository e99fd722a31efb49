"""The interactive authorization-code + PKCE login, one attempt, caller holds the lock.

Sequence (google-auth-oauthlib's order): discover → make verifier/state → bind the listener →
only then open the browser → wait → exchange → store → tell the browser the truth. With
``mode="paste"`` there is no listener: the user pastes the address the browser was sent to.
Nothing is stored unless the exchange succeeded; Ctrl-C at any point leaves the store as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from . import browser, oauth, pkce
from .callback import parse_pasted
from .config import Target
from .endpoints import discover
from .errors import AuthorizationError, ConfigError, ScopedAuthError
from .store import TokenStore
from .tokens import Token

__all__ = ["run_login"]

MODES = ("auto", "no-browser", "paste")


def _redirect_uri(port: int, redirect_uri: str | None) -> tuple[str, int]:
    from urllib.parse import urlsplit

    from .config import is_loopback_host

    if redirect_uri is None:
        if not 0 < port < 65536:
            raise ConfigError(f"--port must be 1-65535, not {port}")
        return f"http://localhost:{port}", port
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"--redirect-uri {redirect_uri!r} must be http://localhost:PORT[/path] (the listener runs on loopback)"
        )
    try:
        return redirect_uri, parts.port or 80
    except ValueError:
        raise ConfigError(f"bad port in --redirect-uri {redirect_uri!r}") from None


def _default_read_line(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise AuthorizationError("no address was pasted (end of input)")
    return line


def run_login(
    target: Target,
    store: TokenStore,
    *,
    say: Callable[[str], None],
    port: int = 8020,
    redirect_uri: str | None = None,
    timeout: float = 300.0,
    mode: str = "auto",
    browser_command: str | None = None,
    read_line: Callable[[str], str] | None = None,
    opener: Callable[[str], bool] | None = None,
) -> Token:
    """One login attempt. ``opener`` replaces the system browser (the demo's scripted user)."""
    if mode not in MODES:
        raise ConfigError(f"unknown login mode {mode!r}: choose one of {', '.join(MODES)}")
    redirect, bind_port = _redirect_uri(port, redirect_uri)
    endpoints = discover(target)
    verifier, state = pkce.make_verifier(), pkce.make_state()
    if mode == "auto" and opener is None and not browser.can_open(browser_command) and sys.stdin.isatty():
        mode = "paste"
        say("No browser can be opened here, so this login uses copy and paste.")

    def authorize(uri: str) -> str:
        return oauth.authorize_url(
            target, endpoints, redirect_uri=uri, challenge=pkce.s256_challenge(verifier), state=state
        )

    if mode == "paste":
        url = authorize(redirect)
        say(f"Open this URL in any browser and sign in:\n\n  {url}\n")
        say(f"The browser will then fail to load {redirect}/?code=…; that is expected.")
        callback_url, _ = parse_pasted(
            (read_line or _default_read_line)("Paste the address it went to: "), redirect, state
        )
        token = oauth.exchange_code(
            target, endpoints, callback_url=callback_url, state=state, verifier=verifier, redirect_uri=redirect
        )
        store.save(token)
        _report(token, say)
        return token

    from .listener import Listener

    listener = Listener(redirect_uri=redirect, state=state, port=bind_port)
    try:
        url = authorize(redirect)
        opened = mode == "auto" and (opener or (lambda u: browser.open_url(u, browser_command)))(url)
        if opened and opener is not None:
            say(f"Handed the sign-in URL to the scripted user for {target.host}.")
        elif opened:
            say(f"Opened your browser to sign in to {target.host}.\nIf it did not open, visit:\n\n  {url}\n")
        else:
            say(f"Open this URL in a browser to sign in to {target.host}:\n\n  {url}\n")
            say(f"On a remote machine, forward the port first:  ssh -L {bind_port}:localhost:{bind_port} <this-host>")
        say(f"Waiting up to {int(timeout)}s for the redirect to {redirect} (Ctrl-C to cancel)…")
        callback_url, _ = listener.wait(timeout)
        try:
            token = oauth.exchange_code(
                target, endpoints, callback_url=callback_url, state=state, verifier=verifier, redirect_uri=redirect
            )
            store.save(token)
        except ScopedAuthError as exc:
            listener.complete(
                False,
                heading="Sign-in failed",
                message=_page_message(exc),
                detail="",
                next_step="Run scopedauth login again; see the terminal for details.",
            )
            raise
        listener.complete(
            True,
            host=target.host,
            store=store.name,
            scopes=list(token.granted_scopes),
            missing=list(token.missing_scopes),
        )
        _report(token, say)
        return token
    finally:
        listener.close()


def _page_message(exc: ScopedAuthError) -> str:
    from .errors import StorageError

    if isinstance(exc, StorageError):
        return "The token was issued but could not be stored; nothing was saved."
    return "The workspace did not issue a token for this sign-in."


def _report(token: Token, say: Callable[[str], None]) -> None:
    if token.missing_scopes:
        say(
            "Warning: the workspace granted fewer scopes than requested. Not granted: "
            + " ".join(token.missing_scopes)
            + ". Calls that need them will fail with 403."
        )
