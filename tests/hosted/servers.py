"""Private PostgreSQL and Redis servers for the hosted tests and benchmarks.

Each runs from Debian's packages in a throw-away directory, listening on a unix socket only
(no port to collide with), and is stopped when the test session ends. PostgreSQL refuses to
run as root, so as root the server runs as ``nobody`` (via ``setpriv``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


class ServerMissingError(RuntimeError):
    """The Debian package that provides the server is not installed."""


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise ServerMissingError("PostgreSQL is not installed (Debian package `postgresql`)")
    return Path(found[-1]).parent


def _as_unprivileged(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]


def _wait(ready: object, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if callable(ready) and ready():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a ``postgresql+psycopg://`` URL for database ``postgres`` as superuser ``postgres``."""
    bindir = _postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="scopedauth-pg-"))
    data = root / "data"
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "nobody", "nogroup")
        subprocess.run(
            _as_unprivileged(
                [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
            cwd=root,
        )
        proc = subprocess.Popen(
            _as_unprivileged(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-k",
                    str(root),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=root,
        )
        try:
            _wait(lambda: _pg_ready(bindir, root), "PostgreSQL", proc)
            yield f"postgresql+psycopg://postgres@/postgres?host={root}"
        finally:
            proc.send_signal(signal.SIGINT)  # "fast" shutdown: SIGTERM would wait for pooled clients
            proc.wait(timeout=30)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _pg_ready(bindir: Path, root: Path) -> bool:
    probe = subprocess.run(
        [str(bindir / "pg_isready"), "-h", str(root), "-U", "postgres", "-q"], capture_output=True, check=False
    )
    return probe.returncode == 0


def pg_dump(url: str) -> str:
    """The whole database as SQL text (what an attacker with a backup would read)."""
    host = url.split("host=", 1)[1]
    return subprocess.run(
        [str(_postgres_bin() / "pg_dump"), "-h", host, "-U", "postgres", "postgres"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def reset_postgres(url: str) -> None:
    """Drop everything the previous test created."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Yield a ``unix://`` URL of a private Redis without persistence."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise ServerMissingError("Redis is not installed (Debian package `redis-server`)")
    root = Path(tempfile.mkdtemp(prefix="scopedauth-redis-"))
    sock = root / "redis.sock"
    proc = subprocess.Popen(
        [exe, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
    )
    try:
        _wait(sock.exists, "Redis", proc)
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def redis_values(url: str) -> str:
    """Every key and value in the Redis database, as text."""
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    out = []
    for key in client.scan_iter():
        kind = client.type(key)
        value = client.hgetall(key) if kind == "hash" else client.smembers(key) if kind == "set" else client.get(key)
        out.append(f"{key} {value}")
    client.close()
    return "\n".join(out)
