#!/usr/bin/env python3
"""A scripted person for tests that drive ``scopedauth login`` from outside, over real HTTP(S).

As a module: :func:`consent` plays the sandbox's consent page and returns the address the
browser is sent to (not followed: what a ``--paste`` user copies); :func:`follow` then loads
it, as the browser would, from the loopback listener.

As a program (``$BROWSER``, ``--browser-command``, a fake ``rundll32.exe``): finds the URL
among its arguments (also inside a quoted ``'url'``), consents and follows. Environment:

* ``SCOPEDAUTH_TEST_DECISION``  ``allow`` (default) or ``deny``
* ``SCOPEDAUTH_TEST_CA``        CA bundle the sandbox's TLS certificate chains to
* ``SCOPEDAUTH_TEST_PROXY``     HTTPS proxy to reach the workspace through
* ``SCOPEDAUTH_TEST_ARGV``      append this program's name and arguments (JSON, one line) here
* ``SCOPEDAUTH_TEST_AS``        the name to record (a fake ``wslview`` script that execs this one)
* ``SCOPEDAUTH_TEST_NOISE``     print chatter on stdout and stderr first (as real launchers do)
* ``SCOPEDAUTH_TEST_PAGE``      write the listener's final page here

Standard library and requests only, so it runs by path from any directory.
"""

from __future__ import annotations

import json
import os
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import requests

REDIRECTS = (301, 302, 303, 307, 308)


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form" and attr.get("id") == "consent":
            self._inside, self.action = True, attr.get("action", "")
        elif tag == "input" and self._inside and attr.get("type") == "hidden":
            self.fields[attr.get("name", "")] = attr.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def _session(ca: str | None, proxy: str | None) -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # the person's browser: our HTTPS_PROXY settings are not its own
    if ca:
        http.verify = ca
    if proxy:
        http.proxies = {"https": proxy}
    return http


def consent(url: str, decision: str = "allow", *, ca: str | None = None, proxy: str | None = None) -> str:
    """Sign in on the consent page; the Location the server redirects the browser to."""
    with _session(ca, proxy) as http:
        page = http.get(url, allow_redirects=False, timeout=30)
        if page.status_code in REDIRECTS:
            return str(page.headers["Location"])
        page.raise_for_status()
        form = _Form()
        form.feed(page.text)
        if form.action is None:
            raise RuntimeError(f"no consent form at {url}")
        answer = http.post(
            urljoin(url, form.action), data={**form.fields, "decision": decision}, allow_redirects=False, timeout=30
        )
        if answer.status_code not in REDIRECTS:
            raise RuntimeError(f"consent answered {answer.status_code}")
        return str(answer.headers["Location"])


def follow(location: str) -> requests.Response:
    """Load the redirect from the loopback listener, as the browser does."""
    with _session(None, None) as http:
        return http.get(location, timeout=120)


def url_from_args(args: list[str]) -> str:
    for arg in reversed(args):
        if "://" in arg:
            text = arg[arg.index("'") + 1 : arg.rindex("'")] if "'" in arg else arg
            return text.replace("''", "'")
    raise SystemExit(f"no URL among {args!r}")


def main(argv: list[str]) -> int:
    env = os.environ
    if env.get("SCOPEDAUTH_TEST_ARGV"):
        with open(env["SCOPEDAUTH_TEST_ARGV"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps([env.get("SCOPEDAUTH_TEST_AS") or Path(argv[0]).name, *argv[1:]]) + "\n")
    if env.get("SCOPEDAUTH_TEST_NOISE"):
        print("launcher noise on stdout: Opening in existing browser session.", flush=True)
        print("launcher noise on stderr: [1234:5678:ERROR:gpu_init.cc] GPU blocklisted", file=sys.stderr, flush=True)
    location = consent(
        url_from_args(argv[1:]),
        env.get("SCOPEDAUTH_TEST_DECISION", "allow"),
        ca=env.get("SCOPEDAUTH_TEST_CA"),
        proxy=env.get("SCOPEDAUTH_TEST_PROXY"),
    )
    final = follow(location)
    if env.get("SCOPEDAUTH_TEST_PAGE"):
        Path(env["SCOPEDAUTH_TEST_PAGE"]).write_text(f"{final.status_code}\n{final.text}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
