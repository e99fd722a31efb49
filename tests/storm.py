"""The refresh storm, shared by tests/test_storm.py and benchmarks/run.py.

N processes are started, each imports the CLI and then waits at a gate (a file) so they all run
``scopedauth token`` within a millisecond or two of each other, against a target whose access
token has expired and whose refresh token the sandbox rotates (and revokes the family of, on
reuse). Without single flight, more than one would refresh and the grant would die.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

WORKER = r"""
import os, sys, time
from pathlib import Path
gate = Path(sys.argv[1])
from scopedauth.cli import main as cli  # import cost paid before the gate opens
import click
while not gate.exists():
    time.sleep(0.0005)
sys.argv = ["scopedauth", "token", *sys.argv[2:]]
cli.main()
"""


@dataclass
class StormResult:
    outputs: list[str]
    codes: list[int]
    errors: list[str]
    wall: float


def run_storm(n: int, args: list[str], workdir: Path, env: dict[str, str] | None = None) -> StormResult:
    gate = workdir / f"gate-{time.monotonic_ns()}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(gate), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    time.sleep(1.5 + n * 0.06)  # let every worker finish importing and reach the gate
    started = time.monotonic()
    gate.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    wall = time.monotonic() - started
    return StormResult(
        outputs=[o.strip() for o, _ in outs],
        codes=[p.returncode for p in procs],
        errors=[e for _, e in outs],
        wall=wall,
    )
