"""``login --save-profile``: make a profile in ``~/.databrickscfg`` use scopedauth's grant in every
tool that reads profiles (databricks-sdk, and so dbt, MLflow, notebooks, the SQL connector through
``Config(...).authenticate``) with no scopedauth code in those programs.

The mechanism is databricks-sdk's own ``databricks-cli`` auth type: with ``auth_type =
databricks-cli`` the SDK runs ``<databricks_cli_path> auth token --profile P`` and reads
``{access_token, token_type, expiry}`` from its stdout. We point ``databricks_cli_path`` at the
``scopedauth-databricks-cli`` script (:mod:`scopedauth.cli.sdk_cli`), which answers from
scopedauth's store. The profile gets three settings (``scopes``, ``auth_type``,
``databricks_cli_path``); every other byte of the file is kept.

Trade-offs (also in docs/clients/profiles.md):

- ``databricks_cli_path`` is an absolute path into this environment: moving or deleting the
  virtualenv breaks the profile until ``--save-profile`` is run again from the new one.
- The Databricks CLI itself does not read ``databricks_cli_path``: ``databricks … --profile P``
  keeps using its own login for that profile.
- ``scopedauth profile reset P`` undoes it: it removes ``databricks_cli_path`` and
  ``auth_type = databricks-cli`` (the scopes stay; they are ``--save-scopes``' and harmless). A
  profile made by ``databricks auth login`` then works as before: without an ``auth_type`` the
  SDK's default chain reaches the Databricks CLI.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import ConfigError
from .profiles import edit_profile, read_profile, with_scopes, with_values

__all__ = ["AUTH_TYPE", "SCRIPT", "reset_profile", "save_profile", "script_path"]

SCRIPT = "scopedauth-databricks-cli"
AUTH_TYPE = "databricks-cli"


def script_path() -> Path:
    """The absolute path of the ``scopedauth-databricks-cli`` script of this installation.

    Console scripts live next to the interpreter that installed them (a virtualenv's ``bin`` or
    ``Scripts``); else the one on PATH.
    """
    here = Path(sys.executable).parent
    for name in (SCRIPT, f"{SCRIPT}.exe"):
        if (here / name).is_file():
            return (here / name).absolute()
    found = shutil.which(SCRIPT)
    if found:
        return Path(found).absolute()
    raise ConfigError(f"cannot find the {SCRIPT} script next to {sys.executable} or on PATH; reinstall scopedauth")


def check_profile(profile: str, env: Mapping[str, str] | None = None) -> Path:
    """Fail before a login when the profile cannot be saved; the script path to write."""
    current = read_profile(profile, env)
    auth = current.get("auth_type", "").strip()
    if auth and auth != AUTH_TYPE:
        raise ConfigError(
            f"[{profile}] has auth_type = {auth}; --save-profile would replace it. "
            "Remove that line first, or save into another profile."
        )
    return script_path()


def save_profile(profile: str, scopes: Iterable[str], env: Mapping[str, str] | None = None) -> Path:
    """Write ``scopes``, ``auth_type = databricks-cli`` and ``databricks_cli_path`` into ``[profile]``."""
    script = check_profile(profile, env)
    saved = {"auth_type": AUTH_TYPE, "databricks_cli_path": str(script)}
    return edit_profile(profile, lambda text: with_values(with_scopes(text, profile, scopes), profile, saved), env)


def reset_profile(profile: str, env: Mapping[str, str] | None = None) -> bool:
    """Undo :func:`save_profile`; False (file untouched) when the profile does not point at our script."""
    current = read_profile(profile, env)
    path = current.get("databricks_cli_path", "").strip()
    if os.path.basename(path).removesuffix(".exe") != SCRIPT:
        return False
    removed: dict[str, str | None] = {"databricks_cli_path": None}
    if current.get("auth_type", "").strip() == AUTH_TYPE:
        removed["auth_type"] = None
    edit_profile(profile, lambda text: with_values(text, profile, removed), env)
    return True
