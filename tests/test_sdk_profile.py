"""``login --profile P --save-profile``: databricks-sdk uses the scoped grant with no scopedauth code.

The real SDK runs the real ``scopedauth-databricks-cli`` console script (installed with the
package) through its ``databricks-cli`` auth type, against the sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scopedauth.cli.sdk_cli import SPEAKS
from scopedauth.errors import ConfigError
from scopedauth.grants.session import store_for
from scopedauth.handoff import sdk_profile
from scopedauth.sandbox import Sandbox
from tests.clitools import CLI

BEFORE = "# my settings\n[dev]\nhost = {url}\n; keep me\n\n[other]\nhost = https://o.cloud.databricks.com\n"


@pytest.fixture
def cfg(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCOPEDAUTH_STORAGE", "file")  # the SDK's child process reads the same store
    return Path(os.environ["DATABRICKS_CONFIG_FILE"])


def _login(sb: Sandbox, port: int, browser_script: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["login", "--profile", "dev", "--scopes", "sql iam.current-user:read", "--port", str(port), *extra]
    env = {**os.environ, "BROWSER": browser_script}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)


def test_save_profile_then_the_real_sdk_uses_the_grant_and_reset_undoes_it(
    sandbox: Sandbox, listener_port: int, browser_script: str, cfg: Path
) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    cfg.write_text(BEFORE.format(url=sandbox.url))
    done = _login(sandbox, listener_port, browser_script, "--save-profile")
    assert done.returncode == 0, done.stderr
    script = Path(sys.executable).parent / "scopedauth-databricks-cli"
    assert cfg.read_text() == BEFORE.format(url=sandbox.url).replace(
        "; keep me\n",
        f"scopes = iam.current-user:read, sql\nauth_type = databricks-cli\ndatabricks_cli_path = {script}\n; keep me\n",
    )
    (stored,) = store_for("file").targets()
    token = store_for("file").load(stored)
    assert token is not None

    config = Config(profile="dev")
    assert config.auth_type == "databricks-cli"
    assert config.oauth_token().access_token == token.access_token
    assert WorkspaceClient(profile="dev").current_user.me().user_name == "demo@example.com"
    assert sandbox.stats.code_exchanges == 1, "the SDK must never start a login of its own"

    reset = subprocess.run([*CLI, "profile", "reset", "dev"], capture_output=True, text=True, timeout=30)
    assert reset.returncode == 0, reset.stderr
    assert cfg.read_text() == BEFORE.format(url=sandbox.url).replace(
        "; keep me\n", "scopes = iam.current-user:read, sql\n; keep me\n"
    )
    again = subprocess.run([*CLI, "profile", "reset", "dev"], capture_output=True, text=True, timeout=30)
    assert again.returncode == 0 and "nothing to undo" in again.stderr


def test_with_nothing_stored_the_sdk_shows_the_login_command(sandbox: Sandbox, cfg: Path) -> None:
    from databricks.sdk.core import Config

    cfg.write_text(BEFORE.format(url=sandbox.url))
    sdk_profile.save_profile("dev", ["sql"])
    with pytest.raises(ValueError, match="scopedauth login --profile dev") as info:
        Config(profile="dev")
    assert "Traceback" not in str(info.value)
    assert sandbox.stats.authorize_requests == 0


def test_the_script_speaks_the_sdk_protocol(sandbox: Sandbox, cfg: Path) -> None:
    from databricks.sdk.credentials_provider import DatabricksCliTokenSource

    script = str(sdk_profile.script_path())
    version = subprocess.run([script, "version", "--output", "json"], capture_output=True, text=True, timeout=30)
    parsed = DatabricksCliTokenSource._parse_cli_version(version.stdout)
    assert (parsed.major, parsed.minor, parsed.patch) == SPEAKS
    from datetime import timedelta

    from scopedauth.config import Target
    from scopedauth.tokens import Token, utcnow

    target = Target(sandbox.url, scopes=("offline_access", "sql"))
    store_for("file").save(Token(target, access_token="eyJ.host", expiry=utcnow() + timedelta(hours=1)))
    by_host = subprocess.run(
        [script, "auth", "token", "--host", sandbox.url, "--force-refresh"], capture_output=True, text=True, timeout=30
    )
    assert by_host.returncode == 0, by_host.stderr
    answer = json.loads(by_host.stdout)
    assert (answer["access_token"], answer["token_type"]) == ("eyJ.host", "Bearer") and answer["expiry"]
    wrong = subprocess.run([script, "workspace", "list"], capture_output=True, text=True, timeout=30)
    assert wrong.returncode == 2 and "scopedauth-databricks-cli" in wrong.stderr


def test_save_profile_refuses_another_auth_type_before_the_browser(
    sandbox: Sandbox, listener_port: int, browser_script: str, cfg: Path
) -> None:
    text = f"[dev]\nhost = {sandbox.url}\nauth_type = pat\ntoken = dapi-x\n"
    cfg.write_text(text)
    done = _login(sandbox, listener_port, browser_script, "--save-profile")
    assert done.returncode == 2 and "auth_type = pat" in done.stderr
    assert sandbox.stats.authorize_requests == 0 and cfg.read_text() == text
    with pytest.raises(ConfigError, match="replace it"):
        sdk_profile.save_profile("dev", ["sql"])


def test_the_expiry_reads_back_right_outside_utc() -> None:
    """The SDK drops the offset and reads the rest as local time; a 'Z' time would be hours off."""
    probe = (
        "from datetime import datetime, timedelta, timezone\n"
        "from databricks.sdk.credentials_provider import CliTokenSource\n"
        "from scopedauth.cli.sdk_cli import _expiry\n"
        "expiry = _expiry(datetime.now(timezone.utc) + timedelta(hours=1))\n"
        "left = CliTokenSource._parse_expiry(expiry) - datetime.now()\n"
        "print(round(left.total_seconds() / 60))\n"
    )
    for tz in ("Asia/Kolkata", "America/Los_Angeles", "UTC"):
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env={**os.environ, "TZ": tz}
        )
        assert out.stdout.strip() == "60", (tz, out.stdout, out.stderr)
