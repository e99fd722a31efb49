"""The ``scopedauth`` command. The only module that prints.

stdout carries exactly what a machine asked for (a token, JSON, shell code, a response body);
everything meant for a person goes to stderr. Errors are ``scopedauth: error: …`` on stderr with
an exit code per branch of the error tree (see :mod:`scopedauth.errors`).
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import ScopedAuthError
from ..text import shown
from .logs import error_line, install_stderr_handler

F = TypeVar("F", bound=Callable[..., Any])


def say(message: str) -> None:
    """A message for people: stderr, sanitised (:func:`scopedauth.text.shown`, our line feeds kept)."""
    click.echo(shown(message, lines=True), err=True)


class _Seconds(click.FloatRange):
    """A FloatRange that also refuses NaN (every comparison with NaN is false, so the range lets it through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        return seconds


def target_options(func: F) -> F:
    """--host/--profile/--account-id/--client-id/--scopes/--no-refresh-token/--storage."""
    opts = [
        click.option("--host", help="Workspace or account-console URL (else the profile or DATABRICKS_HOST)."),
        click.option("--profile", "-p", help="Profile in ~/.databrickscfg (else DATABRICKS_CONFIG_PROFILE)."),
        click.option("--account-id", help="Account ID: log in to the account console."),
        click.option("--client-id", help="OAuth client ID (default databricks-cli)."),
        click.option("--scopes", "-s", help='Scopes, comma- or space-separated, e.g. "sql files.files".'),
        click.option(
            "--no-refresh-token", "no_refresh", is_flag=True, help="Do not request offline_access (no refresh token)."
        ),
        click.option(
            "--storage",
            type=click.Choice(["keyring", "file", "memory"]),
            envvar="SCOPEDAUTH_STORAGE",
            help="Where tokens live (default: the OS keyring).",
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


_TARGET_FLAGS = (
    ("host", "--host"),
    ("profile", "--profile"),
    ("account_id", "--account-id"),
    ("client_id", "--client-id"),
    ("scopes", "--scopes"),
    ("no_refresh", "--no-refresh-token"),
)


def _target_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """Pop the target options off a command's kwargs into resolve_target keywords."""
    return {
        "host": kw.pop("host"),
        "profile": kw.pop("profile"),
        "account_id": kw.pop("account_id"),
        "client_id": kw.pop("client_id"),
        "scopes": kw.pop("scopes"),
        "refresh_token": False if kw.pop("no_refresh") else None,
    }


def handle_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ScopedAuthError as exc:
            say(error_line(exc))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            say("scopedauth: cancelled; nothing was stored.")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scopedauth")
@click.option(
    "--ca-bundle",
    envvar="SCOPEDAUTH_CA_BUNDLE",
    type=click.Path(dir_okay=False),
    help="CA bundle for TLS to the workspace (corporate proxies).",
)
@click.option(
    "--debug",
    is_flag=True,
    help="Log each HTTP request to stderr (method, URL without query, status; never tokens), "
    "and show a browser launcher's own output there.",
)
def main(ca_bundle: str | None, debug: bool) -> None:
    """Databricks OAuth tokens with custom scopes: log in once, use everywhere."""
    install_stderr_handler(debug)
    if ca_bundle:
        from ..oauth import transport

        transport.configure(ca_bundle=ca_bundle)


def ca_bundle_option(func: F) -> F:
    """``--ca-bundle`` on the command itself too (``scopedauth login --ca-bundle F``), not only on the group."""

    def apply(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value:
            from ..oauth import transport

            transport.configure(ca_bundle=value)
        return value

    return click.option(
        "--ca-bundle",
        type=click.Path(dir_okay=False),
        expose_value=False,
        callback=apply,
        help="CA bundle for TLS to the workspace (corporate TLS inspection); or SCOPEDAUTH_CA_BUNDLE.",
    )(func)


@main.command()
@target_options
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8020, show_default=True, help="Loopback port for the redirect."
)
@click.option("--redirect-uri", help="Redirect URI registered for a custom OAuth app (http://localhost:PORT/...).")
@click.option(
    "--timeout",
    type=_Seconds(1, 86400),
    default=300.0,
    show_default=True,
    help="Seconds to wait for the browser (1-86400).",
)
@click.option("--no-browser", is_flag=True, help="Print the URL instead of opening a browser.")
@click.option("--paste", is_flag=True, help="No listener: paste back the address the browser was sent to.")
@click.option("--browser-command", help="Command that opens the URL (%s for the URL).")
@click.option("--save-scopes", is_flag=True, help="Write the scopes into the profile in ~/.databrickscfg.")
@click.option(
    "--client-secret-env",
    metavar="VAR",
    help="Service principal (M2M): read the client secret from $VAR and use the client-credentials grant.",
)
@click.option("--store-secret", is_flag=True, help="M2M: keep the client secret in the store to mint new tokens.")
@ca_bundle_option
@handle_errors
def login(**kw: Any) -> None:
    """Sign in through the browser and store the token (or, with a client secret, as a service principal)."""
    from ..grants import manage, session
    from ..handoff import profiles
    from ..scopes import hints_for

    target_kw = _target_kwargs(kw)
    for hint in hints_for(target_kw["scopes"]):
        say(hint)
    profile = profiles.profile_for_save(target_kw) if kw["save_scopes"] else None
    mode = "paste" if kw["paste"] else "no-browser" if kw["no_browser"] else "auto"
    token = manage.login(
        store=kw["storage"],
        say=say,
        port=kw["port"],
        redirect_uri=kw["redirect_uri"],
        timeout=kw["timeout"],
        mode=mode,
        browser_command=kw["browser_command"],
        client_secret_env=kw["client_secret_env"],
        store_secret=kw["store_secret"],
        **target_kw,
    )
    store = session.store_for(kw["storage"])
    if token.grant is not None:
        say(_service_principal_note(token, store.name))
    else:
        say(f"Signed in to {token.target.host}; stored in {store.name}.")
    say(f"Granted scopes: {' '.join(token.granted_scopes) or '(not stated by the server)'}")
    if profile:
        say(f"Saved the scopes in [{profile}] of {profiles.save_scopes(profile, token.target.scopes)}.")


def _service_principal_note(token: Any, store_name: str) -> str:
    grant = token.grant
    where = (
        "the client secret is kept in the store under its own key"
        if grant.client_secret_stored
        else f"new tokens are minted while ${grant.client_secret_env} is set"
        if grant.client_secret_env
        else f"new tokens are minted from profile {grant.client_secret_profile}"
    )
    return (
        f"Service principal {token.target.client_id} signed in to {token.target.host}; stored in {store_name}; {where}."
    )


@main.command()
@target_options
@click.option(
    "--subject-token-file",
    type=click.Path(dir_okay=False),
    help="File holding the other identity provider's token (read again whenever a new token is needed).",
)
@click.option("--subject-token-env", metavar="VAR", help="Environment variable holding that token.")
@click.option(
    "--subject-token-type",
    help="RFC 8693 subject_token_type (default urn:ietf:params:oauth:token-type:jwt).",
)
@ca_bundle_option
@handle_errors
def exchange(**kw: Any) -> None:
    """Exchange another identity provider's token (e.g. Microsoft Entra ID) for a Databricks token."""
    from ..grants import manage, session

    token = manage.exchange(
        store=kw["storage"],
        subject_token_file=kw["subject_token_file"],
        subject_token_env=kw["subject_token_env"],
        subject_token_type=kw["subject_token_type"],
        say=say,
        **_target_kwargs(kw),
    )
    store = session.store_for(kw["storage"])
    say(f"Exchanged the federated token for a {token.target.host} token; stored in {store.name}.")
    say(f"Granted scopes: {' '.join(token.granted_scopes) or '(not stated by the server)'}")


@main.command()
@target_options
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def token(**kw: Any) -> None:
    """Print a valid access token (refreshing it if needed). Never opens a browser."""
    from ..grants import session

    tok = session.get_token(store=kw["storage"], interactive=False, **_target_kwargs(kw))
    if kw["output"] == "json":
        click.echo(json.dumps(tok.to_cli_json(), indent=2))
    else:
        click.echo(tok.access_token)


@main.command()
@click.option("--storage", type=click.Choice(["keyring", "file", "memory"]), envvar="SCOPEDAUTH_STORAGE")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def status(storage: str | None, output: str) -> None:
    """What is stored: target, scopes, expiry, refreshability (never the token)."""
    from ..grants import manage
    from .report import status_json, status_lines

    entries = manage.status(store=storage)
    if output == "json":
        click.echo(json.dumps(status_json(entries), indent=2))
        return
    if not entries:
        say('Nothing stored. Run: scopedauth login --host https://<workspace> --scopes "sql"')
        return
    for line in status_lines(entries):
        click.echo(line)


@main.command()
@target_options
@click.option("--all", "all_targets", is_flag=True, help="Every stored target.")
@click.option("--no-revoke", is_flag=True, help="Only delete locally; do not revoke at the server.")
@handle_errors
def logout(**kw: Any) -> None:
    """Revoke the refresh token (when the server supports it) and delete the stored token."""
    from ..grants import manage

    if kw["all_targets"]:
        given = [flag for name, flag in _TARGET_FLAGS if kw.pop(name)]
        if given:
            raise click.UsageError(f"--all logs out every stored target; it cannot be combined with {', '.join(given)}")
    target_kw = _target_kwargs(kw) if not kw["all_targets"] else {}
    results = manage.logout(all_targets=kw["all_targets"], store=kw["storage"], revoke=not kw["no_revoke"], **target_kw)
    if not results:
        say("Nothing stored; nothing to do.")
    for r in results:
        if not r.deleted:
            described = r.target.describe() if r.target.scopes else r.target.describe().rsplit(" scopes=", 1)[0]
            say(f"Nothing stored for {described}; nothing to do.")
            continue
        say(f"{r.target.describe()}: {'revoked and deleted' if r.revoked else 'deleted (not revoked)'}")


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Workspace port (default: a free one).")
def sandbox(port: int) -> None:
    """Run the bundled Databricks-shaped sandbox workspace until Ctrl-C."""
    from ..sandbox.__main__ import main as serve

    sys.exit(serve(["--port", str(port)]))


@main.command()
@click.option("--headless", is_flag=True, help="Play the user on the sandbox consent page (no browser).")
@click.option("--storage", type=click.Choice(["keyring", "file", "memory"]), envvar="SCOPEDAUTH_STORAGE")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8020, show_default=True, help="Loopback port for the redirect."
)
@handle_errors
def demo(headless: bool, storage: str | None, port: int) -> None:
    """The whole story against the bundled sandbox: login, a 200, a 403, and what next."""
    from .demo import run_demo

    run_demo(headless=headless, storage=storage, port=port, say=say, out=click.echo)


# env, exec, call, scopes: cli_handoff adds them to `main` itself (main.add_command at its end), so
# importing either module first works; a `from .cli_handoff import env` here would be circular.
from . import handoff as cli_handoff  # noqa: E402, F401
