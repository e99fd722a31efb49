"""The commands that hand the token to other programs: ``env``, ``exec``, ``call``, ``scopes``.

:mod:`scopedauth.cli.main` registers them on the ``scopedauth`` group. They follow its rules:
stdout carries only what a
machine asked for (shell code, the child's own output, a response body, scope names), stderr
everything meant for a person. None of them opens a browser.

Exit codes besides the error tree's: ``exec`` exits with the child's code (128+N when signal N
killed it, 127 when the command is not found, 126 when it cannot be run); ``call`` exits 22 when
the server answered with a status of 400 or more (curl's ``--fail`` code).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any
from urllib.parse import urljoin

import click

from ..errors import ConfigError, ScopedAuthError
from ..handoff.shell_env import SHELLS
from .options import handle_errors, say, target_kwargs, target_options

__all__ = ["EXIT_HTTP_ERROR", "call", "env", "exec_", "run_exec", "scopes"]

EXIT_HTTP_ERROR = 22


@click.command()
@target_options
@click.option("--shell", type=click.Choice(SHELLS), help="Output syntax (default: from $SHELL, else sh).")
@handle_errors
def env(**kw: Any) -> None:
    """Print DATABRICKS_HOST, DATABRICKS_TOKEN and the expiry as shell code: out=$(scopedauth env) && eval "$out"."""
    from ..grants import session
    from ..handoff.shell_env import default_shell, render, token_variables

    shell = kw.pop("shell") or default_shell(os.environ)
    token = session.get_token(store=kw["storage"], **target_kwargs(kw))
    click.echo(render(token_variables(token), shell), nl=False)


@click.command("exec", context_settings={"allow_interspersed_args": False})
@target_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@handle_errors
def exec_(**kw: Any) -> None:
    """Run COMMAND with a token that stays fresh: scopedauth exec --profile P -- CMD ARGS...

    Exits with COMMAND's exit code (128+N if signal N killed it, 127 if it was not found)."""
    command = list(kw.pop("command"))
    sys.exit(run_exec(command, store=kw["storage"], **target_kwargs(kw)))


def run_exec(command: list[str], *, store: Any = None, environ: dict[str, str] | None = None, **options: Any) -> int:
    """Serve the token over a loopback metadata service while ``command`` runs; its exit code.

    SDKs re-ask the service as their token nears expiry; DATABRICKS_TOKEN (valid at start) is for
    plain tools. The pinned auth type makes SDKs ignore it rather than refuse "more than one
    authorization method configured". Conflicting DATABRICKS_* settings are dropped."""
    from ..grants import session
    from ..handoff import child
    from ..handoff.metadata_service import MetadataServer
    from ..handoff.shell_env import child_environment, token_variables

    target = session.resolve(store=store, **options)
    token = session.get_token(target, store=store)  # fail before starting anything
    # signals are held before the server's threads start, so only this thread ever receives them
    with child.held_signals(), MetadataServer(target.host, lambda: session.get_token(target, store=store)) as server:
        values = token_variables(token)
        values["DATABRICKS_METADATA_SERVICE_URL"] = server.url
        values["DATABRICKS_AUTH_TYPE"] = "metadata-service"
        return child.run(command, child_environment(os.environ if environ is None else environ, values), say)


@click.command()
@click.argument("url")
@target_options
@click.option("-X", "--request", "method", help="HTTP method (default GET, or POST with --data).")
@click.option("-H", "--header", "headers", multiple=True, help="'Name: value' header; repeatable.")
@click.option("-d", "--data", help="Request body; @FILE reads a file, @- reads stdin.")
@handle_errors
def call(**kw: Any) -> None:
    """Call URL (an app's /api/ route or a workspace API) with the token; the body on stdout.

    Prints HTTP <status> on stderr, and for 401/403/404 why; exits 22 on a status of 400 or more."""
    request = {name: kw.pop(name) for name in ("method", "headers", "data")}
    sys.exit(run_call(kw.pop("url"), store=kw.pop("storage"), **request, **target_kwargs(kw)))


def _call_target(url: str, store: Any, options: dict[str, Any]) -> tuple[Any, bool]:
    """The token's workspace, and whether only the URL named it.

    --host/--profile/DATABRICKS_*, else the URL's own origin (before a default profile for
    another host). Never an app URL: apps live on hosts of their own and take tokens from the
    workspace they belong to. For a host taken from the URL, no service principal's secret is
    used (see :func:`scopedauth.grants.m2m.no_ambient_secret`).
    """
    from ..config import resolve_target
    from ..grants import session
    from ..handoff.diagnose import is_app_host
    from ..urls import parse_url

    explicit = options.get("host") or options.get("profile") or options.get("app")
    explicit = explicit or os.environ.get("DATABRICKS_HOST") or os.environ.get("DATABRICKS_CONFIG_PROFILE")
    absolute = parse_url(url, "URL") if "://" in url else None  # a path goes to the workspace
    if explicit or absolute is None or is_app_host(absolute.host):
        return session.resolve(store=store, **options), False
    origin = absolute.origin
    try:
        if resolve_target(**options).host == origin:
            return session.resolve(store=store, **options), False  # e.g. the default profile: keeps its scopes
    except ConfigError:
        pass
    from ..grants.m2m import no_ambient_secret

    with no_ambient_secret():
        return session.resolve(store=store, **{**options, "host": origin}), True


def _read_data(data: str) -> bytes:
    if data == "@-":
        return sys.stdin.buffer.read()
    if not data.startswith("@"):
        return data.encode("utf-8")
    try:
        with open(data[1:], "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read --data file {data[1:]!r}: {exc.strerror or exc}") from exc


def _parse_headers(raw: tuple[str, ...]) -> dict[str, str]:
    headers = {}
    for item in raw:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise ConfigError(f"a header is 'Name: value', got {item!r}")
        if name.strip().lower() == "authorization":
            raise ConfigError("scopedauth call sets Authorization itself; drop the -H Authorization header")
        headers[name.strip()] = value.strip()
    return headers


def run_call(
    url: str, *, method: str | None, headers: tuple[str, ...], data: str | None, store: Any, **options: Any
) -> int:
    """One request through :class:`BearerAuth`; body to stdout, status and diagnosis to stderr."""
    from ..grants.m2m import no_ambient_secret
    from .appcall import app_url

    target, inferred = _call_target(url, store, options)
    with no_ambient_secret() if inferred else contextlib.nullcontext():
        base = app_url(options, store) or target.host
        return _send(url, target, method=method, headers=headers, data=data, store=store, base=base, options=options)


def _send(
    url: str,
    target: Any,
    *,
    method: str | None,
    headers: tuple[str, ...],
    data: str | None,
    store: Any,
    base: str,
    options: dict[str, Any],
) -> int:
    import requests

    from ..grants import session
    from ..handoff.diagnose import CallFacts, diagnose
    from ..handoff.integrations import BearerAuth
    from ..oauth import transport
    from ..tokens import utcnow
    from .appcall import app_check

    full = urljoin(base + "/", url)
    verb = (method or ("POST" if data is not None else "GET")).upper()
    sent = _parse_headers(headers)
    body = None if data is None else _read_data(data)
    if body is not None and not any(k.lower() == "content-type" for k in sent):
        json_like = body.lstrip()[:1] in (b"{", b"[")
        sent["Content-Type"] = "application/json" if json_like else "application/x-www-form-urlencoded"  # as curl
    http = transport.new_session(idempotent=verb in ("GET", "HEAD", "OPTIONS"))
    try:
        resp = http.request(
            verb, full, headers=sent, data=body, auth=BearerAuth(target, store=store), **transport.request_kwargs(full)
        )
    except requests.RequestException as exc:
        raise transport.network_error(exc, full) from None
    sys.stdout.buffer.write(resp.content)
    if resp.content and not resp.content.endswith(b"\n") and sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")  # a person reading: keep "HTTP <status>" off the body's last line
    sys.stdout.buffer.flush()
    say(f"HTTP {resp.status_code}")
    if resp.status_code < 400:
        return 0
    try:
        token = session.get_token(target, store=store)
    except ScopedAuthError:  # the diagnosis then goes by the target alone
        token = None
    facts = CallFacts(
        url=full,
        status=resp.status_code,
        body=resp.text[:4000],
        target=target,
        granted_scopes=(token.granted_scopes if token else ()) or target.scopes,
        expiry=token.expiry if token else None,
        retried=any(r.status_code == 401 for r in resp.history),
        now=utcnow(),
        grant=token.grant if token else None,
    )
    for line in [*diagnose(facts), *app_check(full, resp.status_code, target, facts.granted_scopes, options, store)]:
        say(f"scopedauth: {line}")
    return EXIT_HTTP_ERROR


@click.command()
def scopes() -> None:
    """List the Databricks OAuth scopes scopedauth knows: name<TAB>description."""
    from .scopes import KNOWN_SCOPES

    for name, description in KNOWN_SCOPES.items():
        click.echo(f"{name}\t{description}")
