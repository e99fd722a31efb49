"""SECURITY.md stays true: every row of its threat table names a test, and every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECURITY = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
TABLE = SECURITY.split("## Threats, what we do, and the test that proves it", 1)[1].split("\n## ", 1)[0]
ROWS = [line for line in TABLE.splitlines() if line.startswith("| ") and not line.startswith(("| actor", "| ---"))]
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`|`::(\w+)`")


def test_the_table_has_rows_for_every_actor() -> None:
    actors = ["workspace", "network attacker", "another local user", "same user", "web page", "pasted", "config file"]
    for actor in actors:
        assert any(actor in row.split("|")[1] for row in ROWS), f"no row for the actor {actor!r}"


def test_every_row_names_a_test_that_exists() -> None:
    for row in ROWS:
        last = row.rstrip(" |").rsplit("|", 1)[1]
        found = list(NAMED.finditer(last))
        assert found, f"a row without a test: {row[:80]}"
        current = ""
        for match in found:
            path, name, more = match.groups()
            current = path or current
            source = (ROOT / current).read_text(encoding="utf-8")
            assert f"def {name or more}(" in source, f"{current}::{name or more} named in SECURITY.md does not exist"
