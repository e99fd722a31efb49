"""A tiny loopback HTTP server for tests that need a server answering exactly what they say.

The sandbox plays Databricks; these stand in where a test needs a broken or hostile server
(garbage token responses, plain-http endpoints, recorded form posts).
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class QuietHandler(BaseHTTPRequestHandler):
    """No request log on stderr; ``send_body`` for JSON or raw bytes."""

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_body(self, status: int, data: object) -> None:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoopbackServer:
    """``handler`` served on 127.0.0.1, a free port (over TLS with ``tls``), in a daemon thread;
    ``url``; ``close()``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LocalOAuth(LoopbackServer):
    """A loopback stand-in for a workspace whose discovery documents the test writes.

    The token endpoint records every POSTed form and answers with ``answer`` (status, JSON value
    or raw bytes): a fixed good token unless the test sets another.
    """

    def __init__(self) -> None:
        self.docs: dict[str, object] = {}
        self.token_posts: list[dict[str, list[str]]] = []
        self.answer: tuple[int, object] = (
            200,
            {"access_token": "eyJ.local", "token_type": "Bearer", "expires_in": 3600},
        )
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                doc = outer.docs.get(self.path)
                self.send_body(200 if doc is not None else 404, doc if doc is not None else {"error": "not found"})

            def do_POST(self) -> None:
                outer.token_posts.append(parse_qs(self.read_body().decode(), keep_blank_values=True))
                self.send_body(*outer.answer)

        super().__init__(Handler)

    def metadata(self, **override: str) -> None:
        doc = {
            "issuer": f"{self.url}/oidc",
            "authorization_endpoint": f"{self.url}/oidc/v1/authorize",
            "token_endpoint": f"{self.url}/oidc/v1/token",
        }
        doc.update(override)
        self.docs["/oidc/.well-known/oauth-authorization-server"] = doc


class Recorder(LoopbackServer):
    """Answers ``status`` to everything and records each request's (method, Authorization, body).

    A chunked body (a streamed upload) is read chunk by chunk, so a test can see whether a
    client sent it again on a retry.
    """

    def __init__(self, status: int = 401, tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[tuple[str, str | None, bytes]] = []
        outer = self

        class Handler(QuietHandler):
            def _record(self) -> None:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        body += self.rfile.read(size + 2)[:size]
                        if size == 0:
                            break
                else:
                    body = self.read_body()
                outer.seen.append((self.command, self.headers.get("Authorization"), body))
                self.send_body(status, {"status": status})

            def do_GET(self) -> None:
                self._record()

            def do_POST(self) -> None:
                self._record()

        super().__init__(Handler, tls)


class Redirector(LoopbackServer):
    """Answers every request with a 307 to ``target`` (method and body kept)."""

    def __init__(self, target: str) -> None:
        class Handler(QuietHandler):
            def _redirect(self) -> None:
                self.read_body()
                self.send_response(307)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                self._redirect()

            def do_POST(self) -> None:
                self._redirect()

        super().__init__(Handler)
