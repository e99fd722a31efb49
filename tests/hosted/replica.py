"""One replica of the sample hosted app as its own process (for the refresh race and benchmarks).

``python -m tests.hosted.replica --host WS --app-url APP --store URL --port P [--lease S]
[--hang-refresh]``; keys from ``SCOPEDAUTH_HOSTED_KEYS``. Prints ``ready`` once it listens.
``--hang-refresh`` makes the replica stop for good after taking the refresh lease and before
its POST, so a test can kill it there with SIGKILL.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from scopedauth.hosted.flaskapp import HostedAuth
from scopedauth.hosted.webclient import WebClient

from .webapp import CLIENT_ID, CLIENT_SECRET, Served, create_app

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--app-url", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redirect-port", type=int)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--hang-refresh", action="store_true")
    args = parser.parse_args(argv)
    if args.hang_refresh:

        def hang(self: WebClient, *_args: object) -> None:
            print("leased", flush=True)
            time.sleep(3600)

        WebClient.refresh = hang  # type: ignore[assignment,method-assign]
    auth = HostedAuth(
        host=args.host,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes="sql",
        redirect_uri=f"http://127.0.0.1:{args.redirect_port or args.port}/auth/callback",
        store=args.store,
        lease=args.lease,
    )
    served = Served(create_app(auth, args.app_url), args.port)
    print("ready", flush=True)
    served.thread.join()
    return 0


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start a replica process and wait until it listens."""
    return start_many(env, [list(args)])[0]


def start_many(env: dict[str, str], arg_lists: list[list[str]]) -> list[subprocess.Popen[str]]:
    """Start several replicas at once (their imports overlap), then wait until each listens."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.hosted.replica", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for args in arg_lists
    ]
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            code = proc.wait()
            for other in procs:
                stop(other)
            raise RuntimeError(f"replica did not start (said {line!r}, exit {code})")
    return procs


def stop(proc: subprocess.Popen[str]) -> None:
    """Kill a replica (if it still runs), reap it and close its pipe."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
