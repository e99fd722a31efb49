"""Opening the browser: --browser-command, $BROWSER lists, WSL's bridges, and launcher noise.

The launchers are real programs: small scripts on PATH (a fake ``wslview``, ``powershell.exe``,
``cmd.exe``) that record how they were called and then play the person with
tests/agents/user.py. WSL is declared with ``SCOPEDAUTH_WSL=1``; nothing is mocked.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from scopedauth.oauth import browser
from scopedauth.sandbox import Sandbox
from tests.clitools import AGENT, base_env, records, run

URL = "https://ws.example.com/oidc/v1/authorize?client_id=databricks-cli&state=a&scope=sql"


def script(directory: Path, name: str, body: str | None = None) -> Path:
    """An executable ``name`` in ``directory``; by default it plays the person via the agent."""
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(body or f'#!/bin/sh\nSCOPEDAUTH_TEST_AS={name} exec "{sys.executable}" "{AGENT}" "$@"\n')
    path.chmod(0o755)
    return path


def login(sb: Sandbox, port: int, *extra: str, env: dict[str, str]) -> object:
    return run("login", "--host", sb.url, "--scopes", "sql", "--port", str(port), "--timeout", "20", *extra, env=env)


def calls(argv_file: Path) -> list[list[str]]:
    return [json.loads(line) for line in argv_file.read_text().splitlines()] if argv_file.exists() else []


# -- which launchers, in which order (pure: env and PATH given) -------------------------------------


def test_browser_list_and_percent_s() -> None:
    env = {"BROWSER": "firefox --new-tab %s:my-browser:w3m '%s' --dump"}
    assert browser.launchers(URL, env=env) == [
        ["firefox", "--new-tab", URL],
        ["my-browser", URL],
        ["w3m", URL, "--dump"],
    ]


def test_browser_command_wins_over_browser_variable() -> None:
    env = {"BROWSER": "firefox"}
    assert browser.launchers(URL, "open -a Safari", env=env) == [["open", "-a", "Safari", URL]]


@pytest.mark.parametrize(
    ("template", "win32", "words"),
    [
        (
            r'"C:\Program Files\Mozilla Firefox\firefox.exe" -new-tab %s',
            True,
            [r"C:\Program Files\Mozilla Firefox\firefox.exe", "-new-tab", "%s"],
        ),
        (r"C:\tools\ff.exe %s", True, [r"C:\tools\ff.exe", "%s"]),
        (r'cmd /c start "" %s', True, ["cmd", "/c", "start", "", "%s"]),
        (r"'C:\a b\edge.exe'", True, [r"C:\a b\edge.exe"]),
        # POSIX: the shell's rules, a backslash escapes
        (r"/opt/my\ browser/run --flag='x y' %s", False, ["/opt/my browser/run", "--flag=x y", "%s"]),
        (r"C:\tools\ff.exe", False, ["C:toolsff.exe"]),
    ],
)
def test_split_command_keeps_windows_backslashes(template: str, win32: bool, words: list[str]) -> None:
    assert browser.split_command(template, win32=win32) == words


def test_no_display_no_browser_variable_means_no_browser(tmp_path: Path) -> None:
    script(tmp_path / "bin", "xdg-open", "#!/bin/sh\nexit 0\n")
    env = {"PATH": str(tmp_path / "bin"), "SCOPEDAUTH_WSL": "0"}
    assert browser.launchers(URL, env=env) == []
    assert not browser.can_open(env=env)
    assert browser.launchers(URL, env={**env, "DISPLAY": ":0"}) == [["xdg-open", URL]]


def test_wsl_bridges_in_order_then_the_linux_opener(tmp_path: Path) -> None:
    bin_ = tmp_path / "bin"
    for name in ("wslview", "powershell.exe", "cmd.exe", "xdg-open"):
        script(bin_, name, "#!/bin/sh\nexit 0\n")
    url = URL + "&x=it's"
    env = {"PATH": str(bin_), "SCOPEDAUTH_WSL": "1", "DISPLAY": ":0"}
    assert browser.launchers(url, env=env) == [
        ["wslview", url],
        [
            "powershell.exe",
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            f"Start-Process '{url.replace(chr(39), 2 * chr(39))}'",
        ],
        ["cmd.exe", "/c", "start", "", url.replace("&", "^&")],
        ["xdg-open", url],  # WSLg
    ]
    (bin_ / "wslview").unlink()
    assert [argv[0] for argv in browser.launchers(url, env=env)] == ["powershell.exe", "cmd.exe", "xdg-open"]
    assert browser.launchers(url, env={**env, "SCOPEDAUTH_WSL": "0"}) == [["xdg-open", url]]


def test_is_wsl_can_be_declared_either_way() -> None:
    assert browser.is_wsl({"SCOPEDAUTH_WSL": "1"}) is True
    assert browser.is_wsl({"SCOPEDAUTH_WSL": "0"}) is False
    real = browser.is_wsl({})
    assert real == ("microsoft" in Path("/proc/sys/kernel/osrelease").read_text().lower())


def test_a_launcher_that_fails_at_once_hands_over_to_the_next(tmp_path: Path) -> None:
    marker = tmp_path / "opened"
    good = script(tmp_path / "bin", "good", f'#!/bin/sh\necho "$1" > "{marker}"\n')
    env = {"BROWSER": f"/nonexistent/browser:false:{good}", "PATH": "/usr/bin:/bin"}
    assert browser.open_url(URL, env=env) is True
    assert marker.read_text().strip() == URL
    assert browser.open_url(URL, env={"BROWSER": "false:/nonexistent/x", "PATH": "/usr/bin:/bin"}) is False


def test_a_launcher_still_running_is_reaped_when_it_exits(tmp_path: Path) -> None:
    """A browser binary keeps running past the grace period. open_url must keep waiting for it
    in the background: dropping it running is a ResourceWarning in the caller's program, and
    once it exits nobody would reap it (a zombie until some later Popen happens to)."""
    pid_file, release = tmp_path / "pid", tmp_path / "release"
    body = f'#!/bin/sh\necho $$ > "{pid_file}"\nwhile [ ! -e "{release}" ]; do sleep 0.05; done\n'
    slow = script(tmp_path / "bin", "slow-browser", body)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert browser.open_url(URL, env={"BROWSER": str(slow), "PATH": "/usr/bin:/bin"}) is True
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert _eventually(lambda: pid_file.exists() and pid_file.read_text().strip().isdigit())
    proc_dir = Path("/proc") / pid_file.read_text().strip()
    assert proc_dir.exists(), "the launcher ended before it was released"
    release.touch()
    assert _eventually(lambda: not proc_dir.exists()), "the launcher exited but was never reaped"


def _eventually(check: Callable[[], bool], within: float = 20) -> bool:
    """Whether ``check()`` becomes true within ``within`` seconds (a wait, not a timing assertion)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# -- end to end: the real command, real launcher processes ------------------------------------------


def test_launcher_noise_never_reaches_stdout(sandbox: Sandbox, listener_port: int, tmp_path: Path) -> None:
    argv = tmp_path / "argv.jsonl"
    noisy = script(tmp_path / "bin", "noisy-browser")
    env = base_env(BROWSER=f"{noisy} %s", SCOPEDAUTH_TEST_NOISE="1", SCOPEDAUTH_TEST_ARGV=str(argv))
    res = login(sandbox, listener_port, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert "launcher noise" not in res.stderr
    assert [name for name, *_ in calls(argv)] == ["noisy-browser"]
    assert len(records(tmp_path)) == 1


def test_browser_command_option(sandbox: Sandbox, listener_port: int, tmp_path: Path) -> None:
    argv = tmp_path / "argv.jsonl"
    opener = script(tmp_path / "bin", "my-opener")
    env = base_env(BROWSER="/nonexistent/should-not-run", SCOPEDAUTH_TEST_ARGV=str(argv))
    res = login(sandbox, listener_port, "--browser-command", f"{opener} --new-window %s", env=env)
    assert res.returncode == 0, res.stderr
    ((name, flag, url),) = calls(argv)
    assert (name, flag) == ("my-opener", "--new-window") and url.startswith(sandbox.url)


@pytest.mark.parametrize(
    ("present", "used"),
    [
        (["wslview", "powershell.exe", "cmd.exe"], "wslview"),
        (["powershell.exe", "cmd.exe"], "powershell.exe"),
        (["cmd.exe"], "cmd.exe"),
        (["broken:wslview", "powershell.exe"], "powershell.exe"),
    ],
    ids=["wslview", "powershell", "cmd", "wslview-fails"],
)
def test_wsl_opens_the_windows_browser(
    sandbox: Sandbox, listener_port: int, tmp_path: Path, present: list[str], used: str
) -> None:
    argv = tmp_path / "argv.jsonl"
    bin_ = tmp_path / "bin"
    for name in present:
        if name.startswith("broken:"):
            script(bin_, name.split(":")[1], "#!/bin/sh\necho 'wslview: cannot find the Windows host' >&2\nexit 1\n")
        else:
            script(bin_, name)
    env = base_env(SCOPEDAUTH_WSL="1", SCOPEDAUTH_TEST_ARGV=str(argv), PATH=f"{bin_}:/usr/bin:/bin")
    res = login(sandbox, listener_port, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    ((name, *args),) = calls(argv)
    assert name == used
    if used == "powershell.exe":
        assert args[:3] == ["-NoProfile", "-NonInteractive", "-Command"] and args[3].startswith("Start-Process '")
    if used == "cmd.exe":
        assert args[:3] == ["/c", "start", ""] and "^&" in args[3]
    assert len(records(tmp_path)) == 1


def test_not_wsl_and_no_display_prints_the_url(sandbox: Sandbox, listener_port: int, tmp_path: Path) -> None:
    argv = tmp_path / "argv.jsonl"
    script(tmp_path / "bin", "wslview")
    env = base_env(SCOPEDAUTH_WSL="0", SCOPEDAUTH_TEST_ARGV=str(argv), PATH=f"{tmp_path / 'bin'}:/usr/bin:/bin")
    res = login(sandbox, listener_port, "--timeout", "1", env=env)
    assert res.returncode == 5  # nobody came back: the URL was printed, not opened
    assert "Open this URL in a browser" in res.stderr and "ssh -L" in res.stderr
    assert calls(argv) == []
