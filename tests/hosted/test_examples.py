"""The example apps in examples/ work as written, against the sandbox."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from scopedauth.hosted.keys import KEYS_ENV
from scopedauth.sandbox import Sandbox

from ..conftest import free_port
from .test_asgi import Uvicorn
from .webapp import CLIENT_ID, CLIENT_SECRET, Browser, Served

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["hosted_flask", "hosted_fastapi"])
def test_example_signs_in_and_calls_databricks(
    name: str, sandbox: Sandbox, store_url: str, key_spec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/auth/callback"
    sandbox.add_web_client(CLIENT_ID, CLIENT_SECRET, [redirect_uri])
    env = {
        "DATABRICKS_HOST": sandbox.url,
        "DATABRICKS_CLIENT_ID": CLIENT_ID,
        "DATABRICKS_CLIENT_SECRET": CLIENT_SECRET,
        "APP_REDIRECT_URI": redirect_uri,
        "SCOPEDAUTH_HOSTED_STORE": store_url,
        KEYS_ENV: key_spec,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = load(name).app
    server = Served(app, port) if name == "hosted_flask" else Uvicorn(app, port)
    try:
        browser = Browser()
        assert browser.get(server.url + "/api/me").status_code == 401
        browser.sign_in(server.url, sandbox)
        assert browser.get(server.url + "/api/me").json()["user"] == sandbox.config.user
        assert sandbox.config.user in browser.get(server.url + "/").text
    finally:
        server.close()
