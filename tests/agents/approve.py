#!/usr/bin/env python3
"""A scripted user agent for $BROWSER: sign in on the sandbox consent page over real HTTP,
click Allow (or Deny with SCOPEDAUTH_TEST_DECISION=deny), then follow the redirect to the
loopback listener like a browser would. Writes the final page to SCOPEDAUTH_TEST_PAGE if set.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urljoin

import requests

from scopedauth.sandbox.useragent import _ConsentForm


def sign_in(url: str, decision: str = "allow") -> tuple[int, str]:
    """Consent as the demo user, follow the redirect to the listener; its (status, page)."""
    with requests.Session() as http:
        http.trust_env = False
        page = http.get(url, allow_redirects=False, timeout=30)
        if page.status_code in (301, 302, 303, 307, 308):
            location = page.headers["Location"]
        else:
            form = _ConsentForm()
            form.feed(page.text)
            data = dict(form.fields)
            data["decision"] = decision
            answer = http.post(urljoin(url, form.action or ""), data=data, allow_redirects=False, timeout=30)
            location = answer.headers["Location"]
        final = http.get(location, timeout=120)
        return final.status_code, final.text


def main(url: str) -> int:
    status, text = sign_in(url, os.environ.get("SCOPEDAUTH_TEST_DECISION", "allow"))
    out = os.environ.get("SCOPEDAUTH_TEST_PAGE")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(f"{status}\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
