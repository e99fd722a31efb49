"""Plays the user at the consent page: fetch it, fill the form, press Allow or Deny.

Goes through Flask's test client against the very app the sandbox serves, so it works the
same over plain HTTP and TLS, and never follows the final redirect.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

from flask import Flask

_REDIRECTS = (301, 302, 303, 307, 308)


class _ConsentForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form" and attr.get("id") == "consent":
            self._inside = True
            self.action = attr.get("action", "")
        elif tag == "input" and self._inside and attr.get("type") == "hidden":
            self.fields.append((attr.get("name", ""), attr.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def submit_consent(app: Flask, base_url: str, authorize_url: str, decision: str) -> str:
    """Return the Location the server redirects the browser to after ``decision``."""
    target, base = urlsplit(authorize_url), urlsplit(base_url)
    if target.scheme != base.scheme or target.port != base.port or not target.path.startswith("/oidc/"):
        raise ValueError(f"not an authorize URL of this sandbox ({base_url}): {authorize_url}")
    client = app.test_client()
    page = client.get(target.path, query_string=target.query, base_url=base_url)
    if page.status_code in _REDIRECTS:  # the server refused and redirected with an error
        return str(page.headers["Location"])
    if page.status_code != 200:
        raise RuntimeError(f"authorize page answered {page.status_code}: {page.get_data(as_text=True)}")
    form = _ConsentForm()
    form.feed(page.get_data(as_text=True))
    if form.action is None:
        raise RuntimeError("authorize page has no consent form")
    data = dict(form.fields)
    data["decision"] = decision
    answer = client.post(form.action, data=data, base_url=base_url)
    if answer.status_code not in _REDIRECTS:
        raise RuntimeError(f"consent answered {answer.status_code}: {answer.get_data(as_text=True)}")
    return str(answer.headers["Location"])
