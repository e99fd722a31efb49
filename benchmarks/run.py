"""scopedauth's performance figures, printed as a table. Asserts nothing.

    python benchmarks/run.py            # starts a private keyring if none is running
    python benchmarks/run.py --markdown # the same table as Markdown, for benchmarks/README.md

(a) ``scopedauth token`` as a new process (valid token in the real keyring) against the floor
    of its own design, ``benchmarks/floor_token.py`` (jeepney, the same three Secret Service
    calls, parse, print): median of alternating runs and their ratio (target ≤ 1.25). The
    keyring-package reader ``import keyring; keyring.get_password(…)`` is shown for context.
(b) ``get_token()`` in-process with a valid token: median per call (target ≤ 5 µs for
    ``get_token(host=…, scopes=…)``).
(c) the refresh storm: N processes, expired token, count of refreshes (must be 1), wall time.
(d) a full login against the sandbox with the scripted user: wall time.
(e) peak RSS of ``scopedauth token`` (target ≤ 40 MiB).
(f) ``await aget_token(host=…, scopes=…)`` in-process with a valid token: median per await
    (target ≤ 10 µs; served on the loop, no thread).
(g) the async storm: N coroutines on one loop, stale token, a token endpoint that answers in
    one second: count of refreshes (must be 1) and the loop's worst stall (must stay < 100 ms).
hosted (a)(b)(c): the hosted mode's figures, from benchmarks/hosted.py (``--no-hosted`` skips them).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ensure_keyring() -> None:
    """Re-run under a private D-Bus session with an unlocked GNOME Keyring when none is running."""
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS") or not shutil.which("gnome-keyring-daemon"):
        return
    script = 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$@"'
    os.execvp("dbus-run-session", ["dbus-run-session", "--", "sh", "-c", script, "sh", sys.executable, *sys.argv])


#: a small Python that runs the command and reports its peak RSS. ru_maxrss keeps the high-water
#: mark from before exec, so a child forked straight from this (large) benchmark process would
#: report our size, not its own; forked from this small trampoline it reports the command's.
_RSS_TRAMPOLINE = (
    "import os, sys, time\n"
    "started = time.perf_counter()\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "wall = time.perf_counter() - started\n"
    "sys.stderr.write(f'\\nMAXRSS={usage.ru_maxrss} WALL={wall}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _child_run(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds (fork to exit), peak RSS (KiB) and stdout of one command, as a new process."""
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_TRAMPOLINE, *argv], check=False, capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {proc.returncode}: {proc.stderr[-300:]}")
    figures = dict(item.split("=") for item in proc.stderr.rsplit("\n", 2)[-2].split())
    return float(figures["WALL"]), int(figures["MAXRSS"]), proc.stdout.strip()


def bench_cli_vs_floor(runs: int, env: dict[str, str]) -> dict[str, float]:
    from scopedauth.config import Target
    from scopedauth.storage.backends import KeyringBackend
    from scopedauth.storage.store import TokenStore
    from scopedauth.tokens import Token, utcnow

    host = f"https://bench-{os.getpid()}.cloud.databricks.com"
    target = Target(host, scopes=("offline_access", "sql"))
    token = Token(
        target,
        access_token="x" * 900,
        refresh_token="r" * 120,
        expiry=utcnow() + timedelta(hours=1),
        granted_scopes=target.scopes,
        token_endpoint=f"{host}/oidc/v1/token",
    )
    store = TokenStore(KeyringBackend())
    store.save(token)
    # What a user runs: the console script, with the package's bytecode compiled as pip leaves an
    # installed wheel (PYTHONDONTWRITEBYTECODE would otherwise make every run compile every module).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "scopedauth")], check=True)
    script = shutil.which("scopedauth", path=str(Path(sys.executable).parent))
    entry = [script] if script else [sys.executable, "-m", "scopedauth"]
    ours_cmd = [*entry, "token", "--host", host, "--scopes", "sql"]
    floor_cmd = [sys.executable, str(ROOT / "benchmarks" / "floor_token.py"), "scopedauth", target.key]
    keyring_cmd = [sys.executable, "-c", f"import keyring; keyring.get_password('scopedauth', {target.key!r})"]
    bare_cmd = [sys.executable, "-c", "pass"]
    ours, floor, rss, floor_rss, bare, via_keyring = [], [], [], [], [], []
    try:
        _child_run(ours_cmd, env)  # warm the remembered backend and the page cache
        _child_run(floor_cmd, env)
        for _ in range(runs):
            wall, peak, out = _child_run(ours_cmd, env)
            if out != token.access_token:
                raise RuntimeError("scopedauth token printed something else")
            ours.append(wall)
            rss.append(peak)
            wall, peak, out = _child_run(floor_cmd, env)
            if out != token.access_token:
                raise RuntimeError("the floor script printed something else")
            floor.append(wall)
            floor_rss.append(peak)
            bare.append(_child_run(bare_cmd, env)[0])
            via_keyring.append(_child_run(keyring_cmd, env)[0])
    finally:
        store.delete(target)
    return {
        "ours_ms": statistics.median(ours) * 1000,
        "floor_ms": statistics.median(floor) * 1000,
        "ratio": statistics.median(ours) / statistics.median(floor),
        "rss_mib": max(rss) / 1024,
        "floor_rss_mib": max(floor_rss) / 1024,
        "bare_ms": statistics.median(bare) * 1000,
        "keyring_ms": statistics.median(via_keyring) * 1000,
    }


def bench_get_token(calls: int) -> dict[str, float]:
    import scopedauth
    from scopedauth.config import Target
    from scopedauth.storage.backends import MemoryBackend
    from scopedauth.storage.store import TokenStore
    from scopedauth.tokens import Token, utcnow

    store = TokenStore(MemoryBackend())
    target = Target("https://bench.cloud.databricks.com", scopes=("offline_access", "sql"))
    store.save(
        Token(
            target,
            access_token="x" * 900,
            expiry=utcnow() + timedelta(hours=1),
            token_endpoint="https://bench.cloud.databricks.com/oidc/v1/token",
        )
    )
    results = {}
    for label, call in (
        ("target_us", lambda: scopedauth.get_token(target, store=store)),
        ("kwargs_us", lambda: scopedauth.get_token(host=target.host, scopes="sql", store=store)),
    ):
        call()
        samples = []
        for _ in range(calls // 100):
            started = time.perf_counter()
            for _ in range(100):
                call()
            samples.append((time.perf_counter() - started) / 100)
        results[label] = statistics.median(samples) * 1e6
    return results


def bench_aget_token(calls: int) -> float:
    """Median µs per ``await aget_token(…)`` answered from memory."""
    import asyncio

    import scopedauth
    from scopedauth.config import Target
    from scopedauth.storage.backends import MemoryBackend
    from scopedauth.storage.store import TokenStore
    from scopedauth.tokens import Token, utcnow

    store = TokenStore(MemoryBackend())
    target = Target("https://bench.cloud.databricks.com", scopes=("offline_access", "sql"))
    store.save(Token(target, access_token="x" * 900, expiry=utcnow() + timedelta(hours=1)))

    async def measure() -> float:
        await scopedauth.aget_token(host=target.host, scopes="sql", store=store)  # resolve once
        samples = []
        for _ in range(calls // 100):
            started = time.perf_counter()
            for _ in range(100):
                await scopedauth.aget_token(host=target.host, scopes="sql", store=store)
            samples.append((time.perf_counter() - started) / 100)
        return statistics.median(samples) * 1e6

    return asyncio.run(measure())


def bench_async_storm(n: int) -> dict[str, float]:
    from scopedauth.grants import session
    from scopedauth.sandbox import Sandbox, SandboxConfig
    from scopedauth.storage.backends import MemoryBackend
    from scopedauth.storage.store import TokenStore
    from tests.astorm import run_async_storm
    from tests.conftest import free_port
    from tests.users import user_login

    port = free_port()
    config = SandboxConfig(redirect_uris={"databricks-cli": [f"http://localhost:{port}"]}, token_delay=1.0)
    with Sandbox(config) as sb:
        store = TokenStore(MemoryBackend())
        first = user_login(sb, port, store)
        store.save(first.replace(expiry=first.obtained_at - timedelta(minutes=1)))
        session.forget_memory()
        started = time.perf_counter()
        result = run_async_storm(n, sb.url, "sql", store)
        wall = time.perf_counter() - started
        return {
            "astorm_n": n,
            "astorm_refreshes": sb.stats.refreshes,
            "astorm_stall_ms": result.worst_stall * 1000,
            "astorm_threads": result.threads_used,
            "astorm_wall_s": wall,
        }


def bench_storm(n: int, workdir: Path) -> dict[str, float]:
    import scopedauth
    from scopedauth.config import Target
    from scopedauth.sandbox import Sandbox, SandboxConfig
    from tests.conftest import free_port
    from tests.storm import run_storm
    from tests.users import user_login

    port = free_port()
    os.environ["SCOPEDAUTH_STORAGE"] = "keyring"
    with Sandbox(SandboxConfig(redirect_uris={"databricks-cli": [f"http://localhost:{port}"]})) as sb:
        target = Target(sb.url, scopes=("offline_access", "sql"))
        started = time.perf_counter()
        first = user_login(sb, port, "keyring")
        login_s = time.perf_counter() - started
        store = scopedauth.grants.session.store_for("keyring")
        store.save(first.replace(expiry=first.obtained_at - timedelta(minutes=1)))
        sb.expire_access_tokens()
        result = run_storm(n, ["--host", sb.url, "--scopes", "sql"], workdir, env={"SCOPEDAUTH_KEYRING_TIMEOUT": "60"})
        ok = sum(1 for c in result.codes if c == 0)
        same = len(set(result.outputs)) == 1
        refreshes = sb.stats.refreshes
        store.delete(target)
    return {
        "storm_n": n,
        "storm_ok": ok,
        "storm_same": float(same),
        "storm_refreshes": refreshes,
        "storm_wall_s": result.wall,
        "login_s": login_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="alternating runs for (a) and (e)")
    parser.add_argument("--storm", type=int, default=32, help="processes in the storm (c)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--async-storm", type=int, default=50, help="coroutines in the async storm (g)")
    parser.add_argument("--only", default="abcfgh", help="which groups to run, e.g. 'ab' (default: all; h = hosted)")
    parser.add_argument("--no-hosted", action="store_true", help="skip the hosted-mode figures")
    args = parser.parse_args()
    _ensure_keyring()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SCOPEDAUTH_CACHE_DIR"] = str(Path(tmp) / "cache")
        os.environ["SCOPEDAUTH_CONFIG_DIR"] = str(Path(tmp) / "config")
        os.environ.pop("SCOPEDAUTH_STORAGE", None)
        env = dict(os.environ)
        a = bench_cli_vs_floor(args.runs, env) if "a" in args.only else None
        b = bench_get_token(20000) if "b" in args.only else None
        c = bench_storm(args.storm, Path(tmp)) if "c" in args.only else None
        f = bench_aget_token(20000) if "f" in args.only else None
        g = bench_async_storm(args.async_storm) if "g" in args.only else None
    rows: list[tuple[str, str, str]] = []
    if a:
        rows += [
            ("(a) `scopedauth token`, new process, real keyring", f"{a['ours_ms']:.1f} ms", ""),
            ("(a) floor: benchmarks/floor_token.py (jeepney, 3 calls)", f"{a['floor_ms']:.1f} ms", ""),
            ("(a) ratio ours / floor (target ≤ 1.25)", f"{a['ratio']:.2f}", "median of alternating runs"),
            ("(a) context: `import keyring; get_password`", f"{a['keyring_ms']:.1f} ms", "the keyring package"),
            ("(a) context: bare interpreter `python -c pass`", f"{a['bare_ms']:.1f} ms", "what no command can beat"),
            ("(e) peak RSS of `scopedauth token` (target ≤ 40 MiB)", f"{a['rss_mib']:.1f} MiB", "max over runs"),
            ("(e) peak RSS of the floor", f"{a['floor_rss_mib']:.1f} MiB", "max over runs"),
        ]
    if b:
        rows += [
            ("(b) `get_token(target)` in-process", f"{b['target_us']:.1f} µs", "median"),
            ("(b) `get_token(host=…, scopes=…)` in-process (target ≤ 5 µs)", f"{b['kwargs_us']:.1f} µs", "median"),
        ]
    if c:
        rows += [
            (
                f"(c) storm: {c['storm_n']:.0f} processes, refreshes (must be 1)",
                f"{c['storm_refreshes']:.0f}",
                f"{c['storm_ok']:.0f}/{c['storm_n']:.0f} ok, same token: {bool(c['storm_same'])}",
            ),
            ("(c) storm wall time", f"{c['storm_wall_s']:.2f} s", "gate open → last process exits"),
            ("(d) full login, scripted user, sandbox", f"{c['login_s'] * 1000:.0f} ms", ""),
        ]
    if f is not None:
        rows.append(("(f) `await aget_token(host=…, scopes=…)`, valid token (target ≤ 10 µs)", f"{f:.1f} µs", "median"))
    if g:
        rows += [
            (
                f"(g) async storm: {g['astorm_n']:.0f} coroutines, refreshes (must be 1)",
                f"{g['astorm_refreshes']:.0f}",
                f"{g['astorm_threads']:.0f} worker thread(s); the token endpoint takes 1 s",
            ),
            ("(g) async storm: worst event-loop stall (must be < 100 ms)", f"{g['astorm_stall_ms']:.1f} ms", ""),
            ("(g) async storm wall time", f"{g['astorm_wall_s']:.2f} s", "incl. the 1 s refresh"),
        ]
    if not args.no_hosted and "h" in args.only:
        from benchmarks.hosted import hosted_rows

        rows += hosted_rows()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    if args.markdown:
        print(f"Machine: {machine}\n\n| figure | value | note |\n| --- | --- | --- |")
        for name, value, note in rows:
            print(f"| {name} | {value} | {note} |")
    else:
        print(f"machine: {machine}")
        width = max(len(r[0]) for r in rows)
        for name, value, note in rows:
            print(f"{name:<{width}}  {value:>10}  {note}")


if __name__ == "__main__":
    main()
