"""The demo's stand-in for a developer's app: a bare WSGI app showing what the front forwarded.

``scopedauth demo`` serves it on a loopback port and fronts it as the Databricks App ``hello``;
every request answers with the signed-in user the front named and whether it forwarded the
user's token (never the token itself).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from .sandbox import _QuietHandler

__all__ = ["HelloServer", "hello_app"]


def hello_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = json.dumps(
        {
            "app": "hello",
            "path": environ.get("PATH_INFO", "/"),
            "user": environ.get("HTTP_X_FORWARDED_EMAIL"),
            "user_token_forwarded": bool(environ.get("HTTP_X_FORWARDED_ACCESS_TOKEN")),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class HelloServer:
    """:func:`hello_app` on 127.0.0.1, a free port, in a daemon thread."""

    def __init__(self) -> None:
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, hello_app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> HelloServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
