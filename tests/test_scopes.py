"""``scopedauth scopes`` and the typo hint: a nudge on stderr, never a refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scopedauth.cli.scopes import KNOWN_SCOPES, hints_for, typo_hints
from scopedauth.sandbox import Sandbox

CLI = [sys.executable, "-m", "scopedauth"]


def test_scopes_lists_name_tab_description_on_stdout() -> None:
    done = subprocess.run([*CLI, "scopes"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stderr == ""
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert all(len(row) == 2 and row[0] and row[1] for row in rows)
    names = [row[0] for row in rows]
    assert names == list(KNOWN_SCOPES)
    for expected in ("sql", "files.files", "file.files", "dashboards.genie", "iam.current-user:read", "all-apis"):
        assert expected in names


@pytest.mark.parametrize(
    ("asked", "suggested"),
    [
        ("dashboard.genie", "dashboards.genie"),
        ("fils.files", "files.files"),
        ("sqll", "sql"),
        ("all-api", "all-apis"),
        ("offline-access", "offline_access"),
        ("serving.serving-endpoint", "serving.serving-endpoints"),
        ("iam.curent-user:read", "iam.current-user:read"),
    ],
)
def test_close_misspellings_get_a_hint(asked: str, suggested: str) -> None:
    (hint,) = typo_hints([asked])
    assert repr(asked) in hint and f"did you mean {suggested!r}" in hint


@pytest.mark.parametrize(
    "asked",
    [
        "file.files",  # docs show both spellings: neither is a typo of the other
        "files.files",
        "sql",
        "catalog.tables:write",  # another access level of a known scope, not a typo
        "my-company.custom-scope",
        "genie",
        "unity-catalog",
    ],
)
def test_known_or_far_names_get_none(asked: str) -> None:
    assert typo_hints([asked]) == []


def test_hints_for_a_typed_value() -> None:
    assert len(hints_for("sql, dashboard.genie  file.files")) == 1
    assert hints_for(None) == hints_for("") == []


def _port_args(port: int) -> list[str]:
    return ["--port", str(port), "--timeout", "30", "--storage", "file"]


def test_login_hints_on_stderr_and_still_asks_for_the_scope_as_given(
    sandbox: Sandbox, listener_port: int, browser_script: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [*CLI, "login", "--host", sandbox.url, "--scopes", "sql dashboard.genie", *_port_args(listener_port)],
        capture_output=True,
        text=True,
        env={**os.environ, "BROWSER": browser_script},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "did you mean 'dashboards.genie'?" in done.stderr
    status = json.loads(
        subprocess.run([*CLI, "status", "--storage", "file", "--output", "json"], capture_output=True, text=True).stdout
    )
    (entry,) = status
    assert "dashboard.genie" in json.dumps(entry) and "dashboards.genie" not in json.dumps(entry)
