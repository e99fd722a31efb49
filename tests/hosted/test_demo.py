"""``scopedauth demo --hosted``: two replicas, one sign-in, one shared refresh, logout everywhere."""

from __future__ import annotations

import json

from ..clitools import run


def test_hosted_demo() -> None:
    done = run("demo", "--hosted", timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "served_by_other_replica": 200,
        "concurrent_ok": 20,
        "refreshes": 1,
        "reuse_detections": 0,
        "after_logout": 401,
    }
    assert "signed in on replica 1" in done.stderr
