"""A hosted FastAPI app: every visitor signs in with Databricks; the API acts as them.

Same environment as ``hosted_flask.py``; run with ``uvicorn examples.hosted_fastapi:app --port 8000``.
(No ``from __future__ import annotations`` here: FastAPI reads the ``Annotated`` dependency at runtime.)
"""

import html
import os
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from scopedauth.hosted import HostedASGI, HostedUser


def create_app() -> FastAPI:
    auth = HostedASGI(
        host=os.environ["DATABRICKS_HOST"],
        client_id=os.environ["DATABRICKS_CLIENT_ID"],
        client_secret=os.environ["DATABRICKS_CLIENT_SECRET"],
        scopes=os.environ.get("APP_SCOPES", "sql"),
        redirect_uri=os.environ["APP_REDIRECT_URI"],
        store=os.environ.get("SCOPEDAUTH_HOSTED_STORE"),
    )
    app = FastAPI()
    auth.init_app(app)
    User = Annotated[HostedUser, Depends(auth.user)]  # noqa: N806 - a type alias, FastAPI style

    @app.get("/", response_class=HTMLResponse)
    async def home(user: User) -> str:
        return (
            f"<p>Signed in as {html.escape(user.subject)}.</p><p><a href='/api/me'>/api/me</a></p>"
            "<form method=post action='/auth/logout'><button>Sign out</button></form>"
        )

    @app.get("/api/me")
    async def me(user: User) -> dict[str, str | None]:
        client = user.workspace_client()  # databricks-sdk calls block: run them off the event loop
        info = await run_in_threadpool(client.current_user.me)
        return {"user": info.user_name, "display_name": info.display_name}

    return app


app = create_app() if "DATABRICKS_HOST" in os.environ else None
