"""``scopedauth profile reset NAME``: undo ``login --save-profile``."""

from __future__ import annotations

import click

from .options import handle_errors, say

__all__ = ["profile"]


@click.group()
def profile() -> None:
    """Profiles in ~/.databrickscfg that databricks-sdk uses through scopedauth."""


@profile.command()
@click.argument("name")
@handle_errors
def reset(name: str) -> None:
    """Remove what login --save-profile wrote into [NAME] (auth_type and databricks_cli_path; the scopes stay)."""
    from ..handoff import sdk_profile

    if sdk_profile.reset_profile(name):
        say(f"[{name}] no longer uses scopedauth-databricks-cli; databricks-sdk authenticates it as before.")
    else:
        say(f"[{name}] does not use scopedauth-databricks-cli; nothing to undo.")
