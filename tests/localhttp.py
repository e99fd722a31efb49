"""A tiny loopback HTTP server for tests that need a server answering exactly what they say.

The sandbox plays Databricks; these stand in where a test needs a broken or hostile server
(garbage token responses, plain-http endpoints, recorded form posts).
"""

from __future__ import annotations

import json
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
    """``handler`` served on 127.0.0.1, a free port, in a daemon thread; ``url``; ``close()``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
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
