"""``python -m scopedauth.sandbox [--port N]``: serve until Ctrl-C.

stdout gets two lines, the workspace URL then the app URL; the chatter goes to stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from . import Sandbox


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scopedauth.sandbox",
        description="Run the Databricks-shaped OAuth sandbox and sample app on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="workspace port (default: a free one)")
    args = parser.parse_args(argv)
    sandbox = Sandbox(port=args.port).start()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        print(sandbox.url)
        print(sandbox.app_url, flush=True)
        print(
            f"sandbox workspace {sandbox.url} and app {sandbox.app_url}; user {sandbox.config.user}; Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
