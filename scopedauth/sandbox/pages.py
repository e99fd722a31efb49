"""The HTML the sandbox shows: consent page, error page, sample app home.

Rendered with Flask's Jinja environment, where templates from strings are autoescaped, so
everything reflected from a request is escaped. No external assets; a strict CSP.
"""

from __future__ import annotations

from flask import Response, render_template_string

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f5f5f5;margin:0;padding:3rem 1rem;color:#1b1b1b}
main{max-width:32rem;margin:auto;background:#fff;border-radius:8px;padding:2rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.25rem}code{background:#eee;padding:0 .25rem;border-radius:3px}
button{font-size:1rem;padding:.5rem 1.5rem;margin-right:.5rem;border-radius:4px;border:1px solid #888}
#allow{background:#1b5fc1;color:#fff;border-color:#1b5fc1}
</style></head><body><main>
"""
_TAIL = "</main></body></html>\n"

_CONSENT = (
    _HEAD
    + """<h1>Sign in to the sandbox {{ realm }} as {{ user }}</h1>
<p>The application <strong>{{ client_id }}</strong> is requesting access with these scopes:</p>
<ul id="scopes">{% for scope in scopes %}<li><code>{{ scope }}</code></li>
{% else %}<li>(none)</li>{% endfor %}</ul>
<p>After you decide, you will be sent back to <code>{{ redirect_uri }}</code>.</p>
<form id="consent" method="post" action="{{ action }}">
{% for name, value in fields %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button id="allow" type="submit" name="decision" value="allow">Allow</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form>
"""
    + _TAIL
)

_ERROR = (
    _HEAD
    + """<h1>Sign-in error</h1>
<p id="error"><code>{{ error }}</code></p>
<p id="error_description">{{ description }}</p>
"""
    + _TAIL
)

_APP_HOME = (
    _HEAD
    + """<h1>Sandbox Databricks App</h1>
<p>Signed-in users call these routes with a bearer token carrying the listed scopes:</p>
<ul>{% for path, scopes in routes %}<li><code>{{ path }}</code> needs <code>{{ scopes }}</code></li>
{% endfor %}</ul>
"""
    + _TAIL
)

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _page(html: str, status: int) -> Response:
    response = Response(html, status=status, mimetype="text/html")
    response.headers.update(_SECURITY_HEADERS)
    return response


def consent_page(
    *,
    realm: str,
    user: str,
    client_id: str,
    redirect_uri: str,
    scopes: list[str],
    action: str,
    fields: list[tuple[str, str]],
    csrf_token: str,
) -> Response:
    html = render_template_string(
        _CONSENT,
        title=f"Sign in - sandbox {realm}",
        realm=realm,
        user=user,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        action=action,
        fields=fields,
        csrf_token=csrf_token,
    )
    return _page(html, 200)


def error_page(error: str, description: str, status: int = 400) -> Response:
    html = render_template_string(_ERROR, title="Sign-in error", error=error, description=description)
    return _page(html, status)


def app_home(routes: dict[str, list[str]]) -> Response:
    rows = [(path, " ".join(scopes)) for path, scopes in sorted(routes.items())]
    return _page(render_template_string(_APP_HOME, title="Sandbox Databricks App", routes=rows), 200)
