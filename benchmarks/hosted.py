"""Hosted-mode figures (``python benchmarks/hosted.py``; ``benchmarks/run.py`` includes them).

(a) 4 replica processes x 50 concurrent requests on one expiring session (SQLite): refreshes
    at the server (must be 1), reuse detections (must be 0), failed requests (must be 0).
(b) a lease holder killed with SIGKILL after taking a 5 s lease, before its POST: seconds
    until another replica's request succeeds (bounded by the lease).
(c) requests per second, in-process (Flask test client, one thread), of an authenticated
    route with a valid token on each store, against the same route with no auth: medians of
    interleaved rounds, so a busy machine slows every figure alike.

PostgreSQL and Redis are private servers started from Debian's packages; a store whose server
is missing is reported as such. Asserts nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scopedauth.hosted.backends import open_store
from scopedauth.hosted.keys import KEYS_ENV, Keyring, generate_key
from scopedauth.sandbox import Sandbox
from tests.conftest import free_port
from tests.hosted.replica import start, start_many
from tests.hosted.servers import ServerMissingError, postgres_server, redis_server
from tests.hosted.webapp import Browser, Served, age_session, create_app, make_auth

Row = tuple[str, str, str]


def _signed_in(sandbox: Sandbox, store_url: str, key_spec: str) -> tuple[Served, Browser, int]:
    port = free_port()
    auth = make_auth(sandbox, open_store(store_url, migrate=True), key_spec, port)
    served = Served(create_app(auth, sandbox.app_url), port)
    browser = Browser()
    browser.sign_in(served.url, sandbox)
    return served, browser, port


def _age(store_url: str, key_spec: str, sandbox: Sandbox) -> None:
    store = open_store(store_url)
    (row,) = list(store.iter_sessions())
    age_session(store, Keyring(key_spec), row, 10)
    sandbox.expire_access_tokens()
    store.close()


def bench_race(workdir: Path, replicas: int = 4, per_replica: int = 50) -> Row:
    key_spec = generate_key("bench")
    store_url = f"sqlite:///{workdir / 'race.db'}"
    env = {**os.environ, KEYS_ENV: key_spec, "NO_PROXY": "127.0.0.1,localhost"}
    with Sandbox() as sandbox:
        served, browser, port = _signed_in(sandbox, store_url, key_spec)
        ports = [free_port() for _ in range(replicas)]
        common = [
            "--host",
            sandbox.url,
            "--app-url",
            sandbox.app_url,
            "--store",
            store_url,
            "--redirect-port",
            str(port),
        ]
        procs = start_many(env, [[*common, "--port", str(p)] for p in ports])
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        try:
            _age(store_url, key_spec, sandbox)
            cookie = {"scopedauth-session": browser.cookies["scopedauth-session"]}
            gate = threading.Barrier(replicas * per_replica)

            def hit(url: str) -> int:
                gate.wait()
                with contextlib.suppress(requests.RequestException):
                    return requests.get(url + "/api/call", cookies=cookie, timeout=60, proxies={"http": ""}).status_code
                return 0

            with ThreadPoolExecutor(replicas * per_replica) as pool:
                codes = list(pool.map(hit, [u for u in urls for _ in range(per_replica)]))
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
            served.close()
        failed = sum(1 for c in codes if c != 200)
        return (
            f"hosted (a) {replicas} replicas x {per_replica} concurrent, one expiring session",
            f"{sandbox.stats.refreshes} refresh",
            f"reuse detections {sandbox.stats.family_revocations}, failed requests {failed} (all must be 1/0/0)",
        )


def bench_killed_holder(workdir: Path, lease: float = 5.0) -> Row:
    key_spec = generate_key("bench")
    store_url = f"sqlite:///{workdir / 'killed.db'}"
    env = {**os.environ, KEYS_ENV: key_spec, "NO_PROXY": "127.0.0.1,localhost"}
    with Sandbox() as sandbox:
        served, browser, port = _signed_in(sandbox, store_url, key_spec)
        _age(store_url, key_spec, sandbox)
        p = free_port()
        args = ["--host", sandbox.url, "--app-url", sandbox.app_url, "--store", store_url, "--port", str(p)]
        holder = start(env, *args, "--lease", str(lease), "--hang-refresh", "--redirect-port", str(port))
        cookie = {"scopedauth-session": browser.cookies["scopedauth-session"]}

        def stuck() -> None:
            with contextlib.suppress(requests.RequestException):
                requests.get(f"http://127.0.0.1:{p}/", cookies=cookie, timeout=60, proxies={"http": ""})

        threading.Thread(target=stuck, daemon=True).start()
        assert holder.stdout is not None and holder.stdout.readline().strip() == "leased"
        holder.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        holder.wait()
        status = browser.get(served.url + "/api/call").status_code
        took = time.perf_counter() - killed
        served.close()
    return (
        f"hosted (b) lease holder SIGKILLed before its POST ({lease:.0f} s lease)",
        f"{took:.2f} s",
        f"until another replica answered {status}; refreshes {sandbox.stats.refreshes}",
    )


def _rps(client: object, path: str, cookie: str | None, n: int) -> float:
    from flask.testing import FlaskClient

    assert isinstance(client, FlaskClient)
    if cookie and client.get_cookie("scopedauth-session") is None:
        client.set_cookie("scopedauth-session", cookie, domain="localhost")
    started = time.perf_counter()
    for _ in range(n):
        assert client.get(path).status_code == 200
    return n / (time.perf_counter() - started)


def bench_throughput(workdir: Path, n: int = 300, rounds: int = 7) -> list[Row]:
    """Median over ``rounds`` of interleaved runs: no-auth baseline, then each store in turn."""
    rows: list[Row] = []
    key_spec = generate_key("bench")
    with contextlib.ExitStack() as stack, Sandbox() as sandbox:
        stores: dict[str, str | None] = {"sqlite": f"sqlite:///{workdir / 'rps.db'}"}
        for kind, server in (("postgresql", postgres_server), ("redis", redis_server)):
            try:
                stores[kind] = stack.enter_context(server())
            except (ServerMissingError, RuntimeError, OSError):
                stores[kind] = None
        clients: dict[str, tuple[object, str | None, str]] = {}
        for kind, url in stores.items():
            if url is None:
                continue
            served, browser, _ = _signed_in(sandbox, url, key_spec)
            served.close()
            app = create_app(make_auth(sandbox, url, key_spec, free_port()), sandbox.app_url)
            clients[kind] = (app.test_client(), browser.cookies["scopedauth-session"], "/api/whoami")
            clients.setdefault("no auth", (app.test_client(), None, "/open/whoami"))
        samples: dict[str, list[float]] = {kind: [] for kind in clients}
        for _ in range(rounds):
            for kind, (client, cookie, path) in clients.items():
                samples[kind].append(_rps(client, path, cookie, n))
        baseline = statistics.median(samples.pop("no auth"))
        rows.append(("hosted (c) same route, no auth", f"{baseline:.0f} req/s", "in-process Flask test client, median"))
        for kind, url in stores.items():
            if url is None:
                rows.append((f"hosted (c) authenticated route, {kind}", "n/a", "server not installed"))
                continue
            rps = statistics.median(samples[kind])
            rows.append(
                (f"hosted (c) authenticated route, {kind}", f"{rps:.0f} req/s", f"{rps / baseline:.2f} of no auth")
            )
    return rows


def hosted_rows() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="scopedauth-bench-hosted-") as tmp:
        work = Path(tmp)
        return [bench_race(work), bench_killed_holder(work), *bench_throughput(work)]


def main() -> None:
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    rows = hosted_rows()
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>12}  {note}")


if __name__ == "__main__":
    main()
