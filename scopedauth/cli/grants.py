"""Commands that create, serve and end grants: login, exchange, token, status, logout.

stdout carries exactly what a machine asked for (a token, JSON); everything meant for a person
goes to stderr through :func:`~scopedauth.cli.options.say`.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import ConfigError, ProfileNotSavedError
from .options import (
    TARGET_FLAGS,
    _Seconds,
    ca_bundle_option,
    handle_errors,
    say,
    target_kwargs,
    target_options,
)

__all__ = ["exchange", "login", "logout", "status", "token"]


@click.command()
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
    "--save-profile",
    is_flag=True,
    help="Also make the profile use this grant in databricks-sdk, dbt, MLflow… (auth_type = databricks-cli; "
    "implies --save-scopes; undo: scopedauth profile reset NAME).",
)
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
    from ..handoff import profiles, sdk_profile
    from .scopes import hints_for

    target_kw = target_kwargs(kw)
    for hint in hints_for(target_kw["scopes"]):
        say(hint)
    profile = profiles.profile_for_save(target_kw) if kw["save_scopes"] or kw["save_profile"] else None
    if kw["save_profile"] and profile:
        sdk_profile.check_profile(profile)  # before the browser: a profile we may not rewrite fails now
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
        try:
            if kw["save_profile"]:
                path = sdk_profile.save_profile(profile, token.target.scopes)
            else:
                path = profiles.save_scopes(profile, token.target.scopes)
        except ConfigError as exc:  # after the login: say what did happen, with its own exit code
            stored = "signed in and the grant is stored"
            raise ProfileNotSavedError(f"{stored}, but [{profile}] was not changed: {exc}") from None
        if kw["save_profile"]:
            say(
                f"Saved [{profile}] in {path}: its scopes, auth_type = databricks-cli and databricks_cli_path; "
                f"databricks-sdk now uses this grant for --profile {profile}. Undo: scopedauth profile reset {profile}"
            )
        else:
            say(f"Saved the scopes in [{profile}] of {path}.")


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


@click.command()
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
        **target_kwargs(kw),
    )
    store = session.store_for(kw["storage"])
    say(f"Exchanged the federated token for a {token.target.host} token; stored in {store.name}.")
    say(f"Granted scopes: {' '.join(token.granted_scopes) or '(not stated by the server)'}")


@click.command()
@target_options
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def token(**kw: Any) -> None:
    """Print a valid access token (refreshing it if needed). Never opens a browser."""
    from ..grants import session

    tok = session.get_token(store=kw["storage"], interactive=False, **target_kwargs(kw))
    if kw["output"] == "json":
        click.echo(json.dumps(tok.to_cli_json(), indent=2))
    else:
        click.echo(tok.access_token)


@click.command()
@target_options
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def status(**kw: Any) -> None:
    """What is stored: target, scopes, expiry, refreshability (never the token).

    With --host/--profile/--scopes…, also which stored grant serves that request (the exact
    grant, else the smallest one that covers the scopes).
    """
    from ..grants import manage
    from .report import status_json, status_lines

    target_kw = target_kwargs(kw)
    asked = any(value is not None for value in target_kw.values())
    served = manage.serving(store=kw["storage"], **target_kw) if asked else None
    entries = manage.status(store=kw["storage"])
    if kw["output"] == "json":
        click.echo(json.dumps(status_json(entries, served, asked), indent=2))
        return
    if not entries:
        say('Nothing stored. Run: scopedauth login --host https://<workspace> --scopes "sql"')
        return
    for line in status_lines(entries, served):
        click.echo(line)
    if asked and served is None:
        say("No stored grant serves that request; scopedauth token would say which login to run.")


@click.command()
@target_options
@click.option("--all", "all_targets", is_flag=True, help="Every stored target.")
@click.option("--no-revoke", is_flag=True, help="Only delete locally; do not revoke at the server.")
@handle_errors
def logout(**kw: Any) -> None:
    """Revoke the refresh token (when the server supports it) and delete the stored token."""
    from ..grants import manage

    if kw["all_targets"]:
        given = [flag for name, flag in TARGET_FLAGS if kw.pop(name)]
        if given:
            raise click.UsageError(f"--all logs out every stored target; it cannot be combined with {', '.join(given)}")
    target_kw = target_kwargs(kw) if not kw["all_targets"] else {}
    results = manage.logout(all_targets=kw["all_targets"], store=kw["storage"], revoke=not kw["no_revoke"], **target_kw)
    if not results:
        say("Nothing stored; nothing to do.")
    for r in results:
        if not r.deleted:
            described = r.target.describe() if r.target.scopes else r.target.describe().rsplit(" scopes=", 1)[0]
            say(f"Nothing stored for {described}; nothing to do.")
            continue
        say(f"{r.target.describe()}: {'revoked and deleted' if r.revoked else 'deleted (not revoked)'}")
