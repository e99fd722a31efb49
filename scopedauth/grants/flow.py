"""The interactive authorization-code + PKCE login, one attempt, caller holds the lock.

Sequence (google-auth-oauthlib's order): discover → make verifier/state → bind the listener →
only then open the browser → wait → exchange → store → tell the browser the truth. With
``mode="paste"`` there is no listener: the user pastes the address the browser was sent to;
a paste that is not this login's redirect (a typo, a stale tab, half a URL) may be tried again,
up to :data:`PASTE_ATTEMPTS` times, while a refusal from the server ends the login at once.
Nothing is stored unless the exchange succeeded; Ctrl-C at any point leaves the store as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .. import urls
from ..config import Target
from ..errors import AuthorizationDeniedError, AuthorizationError, ConfigError, ScopedAuthError
from ..oauth import browser, pkce
from ..oauth import client as oauth
from ..oauth.callback import parse_pasted
from ..oauth.endpoints import discover
from ..storage.store import TokenStore
from ..tokens import Token

__all__ = ["run_login"]

MODES = ("auto", "no-browser", "paste")
DEFAULT_PORT = 8020  # the one redirect databricks-cli has registered
#: pasted addresses tried before the login gives up (a refusal from the server ends it at once)
PASTE_ATTEMPTS = 3


def _redirect_uri(port: int, redirect_uri: str | None) -> tuple[str, int]:
    """The redirect URI and the port to bind: only what the listener can serve is accepted.

    The listener binds 127.0.0.1 and ::1 and answers ``Host: localhost``, ``127.0.0.1`` and
    ``[::1]``; any other loopback address (127.0.0.2, ``app.localhost``) would make the login
    wait out its whole timeout, so it is refused here, before discovery.
    """
    from ..oauth.listener import SERVED_HOSTS

    if redirect_uri is None:
        if not 0 < port < 65536:
            raise ConfigError(f"--port must be 1-65535, not {port}")
        return f"http://localhost:{port}", port
    accepted = ", ".join(f"http://{host}:PORT[/path]" for host in SERVED_HOSTS)
    try:
        parsed = urls.parse_url(redirect_uri, "--redirect-uri")
    except ConfigError as exc:
        raise ConfigError(f"{exc} (the listener serves {accepted})") from None
    if parsed.scheme != "http" or parsed.hostname not in SERVED_HOSTS:
        raise ConfigError(
            f"--redirect-uri {urls.shown(redirect_uri)} names an address the listener cannot serve: "
            f"it serves only {accepted}"
        )
    bound = parsed.effective_port
    if port not in (DEFAULT_PORT, bound):
        raise ConfigError(
            f"--port {port} and --redirect-uri {redirect_uri} disagree: drop --port (the URI names the port)"
        )
    return redirect_uri, bound


def _default_read_line(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise AuthorizationError("no address was pasted (end of input)")
    return line


def _read_pasted(read_line: Callable[[str], str], redirect: str, state: str, say: Callable[[str], None]) -> str:
    """The code in the pasted callback URL, asking again after a paste that is not this login's redirect.

    End of input (``read_line`` raising) and an error redirect carrying our state (the user or
    the server refused) end the login at once; retyping cannot change those.
    """
    for attempt in range(1, PASTE_ATTEMPTS + 1):
        text = read_line("Paste the address it went to: ")
        try:
            if not text.strip():
                raise AuthorizationError("nothing was pasted")
            _, code = parse_pasted(text, redirect, state)
        except AuthorizationDeniedError:
            raise
        except AuthorizationError as exc:
            if attempt == PASTE_ATTEMPTS:
                raise AuthorizationError(f"{exc} (gave up after {PASTE_ATTEMPTS} attempts)") from None
            left = PASTE_ATTEMPTS - attempt
            say(f"That did not work: {exc}. Try again ({left} {'attempt' if left == 1 else 'attempts'} left).")
            continue
        return code
    raise AssertionError("unreachable")  # pragma: no cover


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
        shown = redirect if urls.parse_url(redirect, "--redirect-uri").path else redirect + "/"
        say(f"The browser will then fail to load {shown}?code=…; that is expected. Copy that whole address.")
        code = _read_pasted(read_line or _default_read_line, redirect, state, say)
        token = oauth.exchange_code(target, endpoints, code=code, verifier=verifier, redirect_uri=redirect)
        store.save(token)
        _report(token, say)
        return token

    from ..oauth.listener import Listener

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
        _, code = listener.wait(timeout)
        try:
            token = oauth.exchange_code(target, endpoints, code=code, verifier=verifier, redirect_uri=redirect)
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
    from ..errors import StorageError

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
