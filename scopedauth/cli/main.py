"""The ``scopedauth`` command group: global options, and every command registered on it.

The cli package is the only one that prints. stdout carries exactly what a machine asked for
(a token, JSON, shell code, a response body); everything meant for a person goes to stderr.
Errors are ``scopedauth: error: …`` on stderr with an exit code per branch of the error tree
(see :mod:`scopedauth.errors`).
"""

from __future__ import annotations

import sys

import click

from . import grants, handoff, profile
from .hosted import hosted as hosted_group
from .logs import install_stderr_handler
from .options import handle_errors, say, storage_option

__all__ = ["main"]


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


@main.command(context_settings={"ignore_unknown_options": True}, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sandbox(args: tuple[str, ...]) -> None:
    """Run the sandbox workspace, its sample app and your own apps (--app NAME=URL) until Ctrl-C.

    Options (see --help): --port N, --app NAME=URL [--app-scopes "sql ..."]..., --auto-approve.
    stdout: the workspace URL, then one "NAME URL" line per app."""
    from ..sandbox.__main__ import main as serve

    sys.exit(serve(list(args)))


@main.command()
@click.option("--headless", is_flag=True, help="Play the user on the sandbox consent page (no browser).")
@storage_option
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8020, show_default=True, help="Loopback port for the redirect."
)
@click.option("--hosted", is_flag=True, help="Two replicas of a hosted web app sharing one store and one refresh.")
@handle_errors
def demo(headless: bool, storage: str | None, port: int, hosted: bool) -> None:
    """The whole story against the bundled sandbox: login, a 200, a 403, and what next."""
    if hosted:
        from .hosted_demo import run_hosted_demo

        run_hosted_demo(say=say, out=click.echo)
        return
    from .demo import run_demo

    run_demo(headless=headless, storage=storage, port=port, say=say, out=click.echo)


for _command in (grants.login, grants.exchange, grants.token, grants.status, grants.logout):
    main.add_command(_command)
main.add_command(hosted_group)
for _command in (handoff.env, handoff.exec_, handoff.call, handoff.scopes, profile.profile):
    main.add_command(_command)
