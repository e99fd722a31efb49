"""The loopback metadata service behind ``scopedauth exec``.

databricks-sdk (Python, Go, Java, the CLI) can take its token from a local metadata service
(``DATABRICKS_AUTH_TYPE=metadata-service``, ``DATABRICKS_METADATA_SERVICE_URL``): it sends
``GET <url>`` with ``X-Databricks-Metadata-Version: 1`` and ``X-Databricks-Host: <host>`` and
expects ``{"access_token", "token_type", "expires_on"}`` (epoch seconds). It asks again when its
token nears expiry, so a child process started by ``exec`` never holds a dead token however long
it runs; every answer comes from :func:`scopedauth.grants.session.get_token`, i.e. the same locked
refresh ladder as every other caller.

Whoever can reach the URL gets a token, so the server listens on 127.0.0.1 only, under a random
port and an unguessable path segment, and answers only requests whose ``Host`` header is
``127.0.0.1:<port>`` or ``localhost:<port>`` (a browser page rebinding DNS to 127.0.0.1 sends its
own name) and whose ``X-Databricks-Host`` names the workspace the token is for. Built on
:mod:`http.server`: Flask is not needed for one route.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from ..config import canonical_host
from ..errors import ConfigError, ScopedAuthError
from ..tokens import Token

__all__ = ["NO_EXPIRY_RECHECK", "MetadataServer"]

log = logging.getLogger("scopedauth")
VERSION_HEADER = "X-Databricks-Metadata-Version"
HOST_HEADER = "X-Databricks-Host"
#: a token without a stated expiry is announced as valid this long, so clients ask again
NO_EXPIRY_RECHECK = 300


def _same_host(given: str | None, host: str) -> bool:
    if not given:
        return False
    try:
        return canonical_host(given) == host
    except ConfigError:
        return False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        status, body = self.server.owner.answer(self.path, dict(self.headers.items()))
        self._send(status, body)

    def _refuse_method(self) -> None:
        self._send(405, {"error": "method_not_allowed", "error_description": "only GET is served"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method  # noqa: N815  (http.server's names)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the request line holds the secret path: never log it


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: MetadataServer


class MetadataServer:
    """``with MetadataServer(host, tokens) as server:`` serves ``tokens()`` at ``server.url``.

    ``tokens`` is called for every request (a memory lookup while the token is fresh); a
    :class:`ScopedAuthError` from it becomes a 503 whose description is the error's message
    (which never holds a token), and is logged once per distinct message.
    """

    def __init__(self, host: str, tokens: Callable[[], Token]) -> None:
        self.host = canonical_host(host)
        self._tokens = tokens
        self._secret = secrets.token_urlsafe(32)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._logged: set[str] = set()
        self._lock = threading.Lock()
        self.requests = 0

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("metadata server not started")
        return f"http://127.0.0.1:{self._server.server_port}/{self._secret}"

    def start(self) -> MetadataServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="scopedauth-metadata", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MetadataServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for one GET: the checks, then the token."""
        port = self._server.server_port if self._server else 0
        lower = {k.lower(): v for k, v in headers.items()}
        # bytes: compare_digest refuses str holding non-ASCII (http.server decodes the request
        # line as latin-1, so any byte can arrive), and a TypeError there is a traceback, not a 404
        asked = path.split("?", 1)[0].rstrip("/").encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(asked, f"/{self._secret}".encode()):
            return 404, {"error": "not_found"}
        if lower.get("host") not in (f"127.0.0.1:{port}", f"localhost:{port}"):
            return 403, {"error": "forbidden", "error_description": "wrong Host header"}
        if lower.get(VERSION_HEADER.lower()) != "1":
            return 400, {"error": "invalid_request", "error_description": f"{VERSION_HEADER} must be 1"}
        if not _same_host(lower.get(HOST_HEADER.lower()), self.host):
            return 403, {"error": "forbidden", "error_description": f"{HOST_HEADER} is not {self.host}"}
        with self._lock:
            self.requests += 1
        try:
            token = self._tokens()
        except ScopedAuthError as exc:
            message = str(exc)
            if message not in self._logged:
                self._logged.add(message)
                log.error("metadata service could not hand out a token: %s", message)
            return 503, {"error": "temporarily_unavailable", "error_description": message}
        return 200, {
            "access_token": token.access_token,
            "token_type": token.token_type or "Bearer",
            "expires_on": _expires_on(token),
        }


def _expires_on(token: Token) -> int:
    """Epoch seconds, rounded up.

    Rounding up keeps a client's idea of the expiry at or after ours, so when the client
    decides the token is stale and asks again, :func:`get_token` already agrees and refreshes
    instead of handing back the same token a few hundred milliseconds early.
    """
    if token.expiry is None:
        return int(time.time()) + NO_EXPIRY_RECHECK
    return math.ceil(token.expiry.timestamp())
