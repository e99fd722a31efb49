"""The one-shot loopback redirect listener (Flask on werkzeug).

Rules, each from a past incident in some OAuth CLI:

* Sockets are bound by us, before the browser opens, on loopback only: ``127.0.0.1`` and
  ``::1`` where the machine has IPv6 (browsers resolve ``localhost`` to either). A busy port is
  a :class:`ListenerError` at once, never a late ``sys.exit`` from inside a server.
* Only a GET on the redirect path whose ``state`` matches ends the login. Favicons, other paths,
  other methods, foreign ``Host`` headers, oversized queries and wrong states get an answer and
  the listener keeps waiting.
* The page is truthful: the handler holds the browser's request until the code has been
  exchanged and the token stored, then says "Signed in" with the granted scopes, or what failed.
  Every value in a page goes through :func:`scopedauth.text.shown`, then Jinja's HTML escaping.
* The port is released in every case (``close`` in ``finally``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AuthorizationDeniedError, AuthorizationError, CallbackTimeoutError, ListenerError
from ..text import shown
from .callback import MAX_QUERY, IgnoredCallbackError, Verdict, judge, parse_query, redirect_path

__all__ = ["SERVED_HOSTS", "Listener", "Outcome", "templates_dir"]

log = logging.getLogger("scopedauth")
#: the ``Host`` names the listener answers, and so the only hosts a redirect URI may name
SERVED_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'",
}


def templates_dir() -> Path:
    """``scopedauth/templates`` inside a wheel, the top-level ``templates/`` in a checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "success.html").is_file():
            return candidate
    raise ListenerError("the page templates are missing from this installation; reinstall scopedauth")


@dataclass
class Outcome:
    """What the main thread reports back to the waiting browser request."""

    ok: bool
    context: dict[str, Any] = field(default_factory=dict)


def _bind(family: int, host: str, port: int) -> socket.socket | None:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: nobody may bind over us
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:  # POSIX: rebind despite TIME_WAIT from the last login; a live listener still conflicts
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(16)
    except OSError as exc:
        sock.close()
        if family == socket.AF_INET6 and exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            return None  # no IPv6 loopback on this machine
        if exc.errno in (errno.EACCES, errno.EPERM):
            # Windows answers EACCES (WSAEACCES) for a port another program holds exclusively or that
            # it reserves; POSIX for a privileged port. Neither is "busy" in the POSIX sense.
            why = (
                "is held exclusively by another program or reserved by Windows "
                "(netsh interface ipv4 show excludedportrange protocol=tcp)"
                if sys.platform == "win32"
                else "cannot be used: permission denied (ports below 1024 need privileges on most systems)"
            )
            raise ListenerError(
                f"port {port} on {host} {why}. Use --port N with a redirect URI http://localhost:N that your "
                "OAuth client has registered (databricks-cli accepts only 8020 by default)"
            ) from None
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            raise ListenerError(
                f"port {port} on {host} is busy (another login, or another program). Finish or cancel the "
                f"other login, stop the program holding it (e.g. `lsof -i :{port}`), or use --port N with a "
                "redirect URI http://localhost:N that your OAuth client has registered "
                "(databricks-cli accepts only 8020 by default)"
            ) from None
        raise ListenerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _shown(context: dict[str, Any]) -> dict[str, Any]:
    """Every text in a page's context through :func:`scopedauth.text.shown` (Jinja then escapes HTML)."""
    return {
        key: [shown(v) for v in value] if isinstance(value, list) else shown(value) if isinstance(value, str) else value
        for key, value in context.items()
    }


class Listener:
    """Bind on construction, serve in threads, hand the callback to :meth:`wait`."""

    def __init__(self, *, redirect_uri: str, state: str, port: int, reply_timeout: float = 120.0) -> None:
        self.redirect_uri = redirect_uri
        self.path = redirect_path(redirect_uri)
        self._state = state
        self._port = port
        self._reply_timeout = reply_timeout
        self._callbacks: queue.Queue[tuple[str, str] | BaseException] = queue.Queue()
        self._outcome: queue.Queue[Outcome] = queue.Queue(maxsize=1)
        self._claimed = threading.Lock()
        self._replied = threading.Event()
        self._servers: list[Any] = []
        self._threads: list[threading.Thread] = []
        self.sockets: list[socket.socket] = []
        first = _bind(socket.AF_INET, "127.0.0.1", port)
        if first is None:  # only IPv6 may be absent; keep mypy and readers sure of it
            raise ListenerError("no IPv4 loopback on this machine")
        self.sockets.append(first)
        self.port = first.getsockname()[1]
        try:
            second = _bind(socket.AF_INET6, "::1", self.port)
        except ListenerError:
            first.close()
            raise
        if second is not None:
            self.sockets.append(second)
        self._start()

    # -- serving ------------------------------------------------------------------------------

    def _start(self) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            """werkzeug logs each request line, which would put the code on stderr."""

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                return None

        app = self._app()
        for sock in self.sockets:
            host = "::1" if sock.family == socket.AF_INET6 else "127.0.0.1"
            server = make_server(host, self.port, app, threaded=True, request_handler=Quiet, fd=sock.fileno())
            self._servers.append(server)
            thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name="scopedauth-listener", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _app(self) -> Any:
        from flask import Flask, Response, render_template, request

        app = Flask("scopedauth.listener", template_folder=str(templates_dir()))
        app.config["MAX_CONTENT_LENGTH"] = 0

        def page(template: str, status: int, **context: Any) -> Response:
            resp = Response(render_template(template, **_shown(context)), status=status, mimetype="text/html")
            resp.headers.update(_SECURITY_HEADERS)
            return resp

        def failure(status: int, heading: str, message: str, next_step: str = "") -> Response:
            return page(
                "error.html",
                status,
                ok=False,
                title=heading,
                heading=heading,
                message=message,
                next_step=next_step,
                detail="",
            )

        @app.route("/", defaults={"subpath": ""}, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
        @app.route("/<path:subpath>", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
        def handle(subpath: str) -> Response:
            host = (request.host or "").lower()
            if (host if host.endswith("]") else host.rsplit(":", 1)[0]) not in SERVED_HOSTS:
                return failure(421, "Wrong host", "This listener only answers requests addressed to localhost.")
            if request.path != self.path:
                return failure(404, "Not found", "This is scopedauth's login listener; nothing lives here.")
            if request.method != "GET":
                return failure(405, "Method not allowed", "The sign-in redirect is a GET request.")
            query = request.query_string.decode("latin-1")
            if len(query) > MAX_QUERY:
                return failure(414, "Request too long", "The redirect carried an oversized query.")
            try:
                code = judge(parse_query(query), self._state)
            except AuthorizationDeniedError as exc:
                if self._claim():
                    self._callbacks.put(exc)
                    denied = page(
                        "error.html",
                        200,
                        ok=False,
                        title="Sign-in refused",
                        heading="Sign-in refused",
                        message="The workspace refused the sign-in.",
                        detail=f"{exc.error}: {exc.description or ''}".strip(" :"),
                        next_step="Run scopedauth login again, or ask your admin for access.",
                    )
                    denied.call_on_close(self._replied.set)
                    return denied
                return failure(409, "Already handled", "This login has already finished.")
            except AuthorizationError as exc:  # ignored (stray, forged) or malformed: keep waiting
                if isinstance(exc, IgnoredCallbackError) and exc.verdict is Verdict.STRAY:
                    return failure(
                        400, "Not a sign-in response", "This address expects the redirect from your workspace."
                    )
                return failure(
                    400,
                    "This link does not belong to the current login",
                    str(exc),
                    "Go back to the terminal; the login there is still waiting.",
                )
            if not self._claim():
                return failure(409, "Already handled", "This login has already finished.")
            self._callbacks.put((request.url, code))
            try:
                outcome = self._outcome.get(timeout=self._reply_timeout)
            except queue.Empty:
                outcome = Outcome(
                    False,
                    {
                        "heading": "No answer from scopedauth",
                        "message": "The terminal did not finish the login in time.",
                    },
                )
            if outcome.ok:
                resp = page("success.html", 200, ok=True, title="Signed in", **outcome.context)
            else:
                ctx = {"heading": "Sign-in failed", "message": "", "detail": "", "next_step": "", **outcome.context}
                resp = page("error.html", 200, ok=False, title=ctx["heading"], **ctx)
            resp.call_on_close(self._replied.set)
            return resp

        return app

    def _claim(self) -> bool:
        return self._claimed.acquire(blocking=False)

    # -- the main thread's side ---------------------------------------------------------------

    def wait(self, timeout: float, on_tick: Callable[[], None] | None = None) -> tuple[str, str]:
        """Block until a valid callback: ``(callback_url, code)``; raise on deny or timeout."""
        try:
            item = self._callbacks.get(timeout=timeout)
        except queue.Empty:
            raise CallbackTimeoutError(
                f"nobody came back to {self.redirect_uri} within {timeout:g}s. Did the browser open? "
                "Use --no-browser to copy the URL by hand, or --paste on a machine without a browser"
            ) from None
        if isinstance(item, BaseException):
            raise item
        return item

    def complete(self, ok: bool, **context: Any) -> None:
        """Tell the waiting browser request how it ended (success page or error page)."""
        with contextlib.suppress(queue.Full):  # the first outcome wins
            self._outcome.put_nowait(Outcome(ok, context))

    def close(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if not self._outcome.full():
            self.complete(False, heading="Login cancelled", message="The login was cancelled in the terminal.")
        if self._claimed.locked():
            self._replied.wait(timeout=5)  # let the browser receive the final page before the port closes
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
