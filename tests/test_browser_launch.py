"""Opening the browser: --browser-command, $BROWSER lists, WSL's bridges, and launcher noise.

The launchers are real programs: small scripts on PATH (a fake ``rundll32.exe``, a
``$BROWSER``) that record how they were called and then play the person with
tests/agents/user.py. WSL is declared with ``SCOPEDAUTH_WSL=1``; nothing is mocked. Fakes of
``wslview``, ``powershell.exe`` and ``cmd.exe`` sit beside them to show they are never used.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
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
        # Windows: only a word wholly inside one kind of quote loses its quotes
        ("x XfooX", True, ["x", "XfooX"]),
    ],
)
def test_split_command_keeps_windows_backslashes(template: str, win32: bool, words: list[str]) -> None:
    assert browser.split_command(template, win32=win32) == words


@pytest.mark.parametrize(("platform", "words"), [("win32", [r"C:\tools\ff.exe"]), ("linux", ["C:toolsff.exe"])])
def test_split_command_follows_this_platform_by_default(
    monkeypatch: pytest.MonkeyPatch, platform: str, words: list[str]
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    assert browser.split_command(r"C:\tools\ff.exe") == words


def test_a_launcher_still_running_counts_as_opened(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    lingering = script(tmp_path / "bin", "lingering", f'#!/bin/sh\necho $$ > "{pid_file}"\nexec sleep 30\n')
    try:
        assert browser.open_url(URL, env={"BROWSER": f"{lingering}:false", "PATH": "/usr/bin:/bin"}) is True
    finally:  # our child: end and reap it, so no orphan outlives the test (mutmut reaps orphans and chokes)
        for _ in range(200):  # it writes its pid first thing; wait for that, not for time
            if pid_file.exists() and pid_file.read_text().strip():
                break
            time.sleep(0.025)
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
        # open_url's reaper thread waits for it; reaping here too would race that thread
        assert _eventually(lambda: not Path(f"/proc/{pid}").exists()), "the ended launcher was never reaped"


def test_no_display_no_browser_variable_means_no_browser(tmp_path: Path) -> None:
    script(tmp_path / "bin", "xdg-open", "#!/bin/sh\nexit 0\n")
    env = {"PATH": str(tmp_path / "bin"), "SCOPEDAUTH_WSL": "0"}
    assert browser.launchers(URL, env=env) == []
    assert not browser.can_open(env=env)
    assert browser.launchers(URL, env={**env, "DISPLAY": ":0"}) == [["xdg-open", URL]]


def test_wsl_bridge_then_the_linux_opener(tmp_path: Path) -> None:
    bin_ = tmp_path / "bin"
    for name in ("wslview", "powershell.exe", "cmd.exe", "rundll32.exe", "xdg-open"):
        script(bin_, name, "#!/bin/sh\nexit 0\n")
    url = URL + "&x=it's"
    env = {"PATH": str(bin_), "SCOPEDAUTH_WSL": "1", "DISPLAY": ":0"}
    assert browser.launchers(url, env=env) == [
        ["rundll32.exe", "url.dll,FileProtocolHandler", url],
        ["xdg-open", url],  # WSLg
    ]
    assert browser.launchers(url, env={**env, "SCOPEDAUTH_WSL": "0"}) == [["xdg-open", url]]
    (bin_ / "rundll32.exe").unlink()
    assert browser.launchers(url, env=env) == [["xdg-open", url]]  # never a shell bridge instead


@pytest.mark.parametrize(
    ("platform", "opener"),
    [("darwin", [["open", URL]]), ("linux", [])],
)
def test_the_platform_opener_comes_after_the_wsl_bridge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, opener: list[list[str]]
) -> None:
    script(tmp_path / "bin", "rundll32.exe", "#!/bin/sh\nexit 0\n")
    monkeypatch.setattr(sys, "platform", platform)
    env = {"PATH": str(tmp_path / "bin")}
    bridge = ["rundll32.exe", "url.dll,FileProtocolHandler", URL]
    assert browser.launchers(URL, env={**env, "SCOPEDAUTH_WSL": "1"}) == [bridge, *opener]
    assert browser.launchers(URL, env={**env, "SCOPEDAUTH_WSL": "0"}) == opener


def test_windows_uses_the_url_handler_of_rundll32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert browser.launchers(URL, env={"PATH": "", "SCOPEDAUTH_WSL": "0"}) == [
        ["rundll32", "url.dll,FileProtocolHandler", URL]
    ]


@pytest.mark.parametrize(
    ("present", "display", "expected"),
    [
        (["xdg-open", "gio", "sensible-browser"], {"DISPLAY": ":0"}, ["xdg-open", URL]),
        (["gio", "sensible-browser"], {"WAYLAND_DISPLAY": "wayland-0"}, ["gio", "open", URL]),
        (["sensible-browser"], {"DISPLAY": ":1"}, ["sensible-browser", URL]),
    ],
)
def test_the_first_linux_opener_on_path_with_a_display(
    tmp_path: Path, present: list[str], display: dict[str, str], expected: list[str]
) -> None:
    for name in present:
        script(tmp_path / "bin", name, "#!/bin/sh\nexit 0\n")
    env = {"PATH": str(tmp_path / "bin"), "SCOPEDAUTH_WSL": "0"}
    assert browser.launchers(URL, env={**env, **display}) == [expected]
    assert browser.launchers(URL, env=env) == []


def test_launchers_read_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROWSER", "my-browser --flag %s")
    assert browser.launchers(URL) == [["my-browser", "--flag", URL]]
    assert browser.can_open()
    monkeypatch.setenv("SCOPEDAUTH_WSL", "yes")
    assert browser.is_wsl() is True
    monkeypatch.setenv("BROWSER", "true")
    assert browser.open_url(URL) is True


def test_can_open_says_whether_anything_would_be_tried() -> None:
    assert browser.can_open(env={"BROWSER": "my-browser"}) is True
    assert browser.can_open("my-browser", env={"PATH": ""}) is True
    assert browser.can_open(env={"PATH": "", "SCOPEDAUTH_WSL": "0"}) is False


@pytest.mark.parametrize(
    ("declared", "wsl"),
    [
        *[("1", True), ("true", True), ("yes", True), (" TRUE ", True), ("Yes", True)],
        *[("0", False), ("false", False), ("no", False), (" NO ", False), ("False", False)],
    ],
)
def test_is_wsl_can_be_declared_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declared: str, wsl: bool
) -> None:
    release = tmp_path / "osrelease"
    release.write_text("5.15.153.1-microsoft-standard-WSL2\n" if not wsl else "6.1.0-13-amd64\n")
    monkeypatch.setattr(browser, "_OSRELEASE", release)
    assert browser.is_wsl({"SCOPEDAUTH_WSL": declared}) is wsl


@pytest.mark.parametrize(
    ("release", "wsl"),
    [
        ("5.15.153.1-microsoft-standard-WSL2", True),
        ("4.4.0-19041-Microsoft", True),
        ("6.1.0-13-amd64", False),
        (None, False),
    ],
)
def test_is_wsl_reads_the_kernel_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, release: str | None, wsl: bool
) -> None:
    path = tmp_path / "osrelease"
    if release is not None:
        path.write_text(release + "\n")
    monkeypatch.setattr(browser, "_OSRELEASE", path)
    assert browser.is_wsl({}) is wsl
    assert browser.is_wsl({"SCOPEDAUTH_WSL": "maybe"}) is wsl  # not a word we know: the kernel decides


def test_a_launcher_that_fails_at_once_hands_over_to_the_next(tmp_path: Path) -> None:
    marker = tmp_path / "opened"
    good = script(tmp_path / "bin", "good", f'#!/bin/sh\necho "$1" > "{marker}"\n')
    env = {"BROWSER": f"/nonexistent/browser:false:{good}", "PATH": "/usr/bin:/bin"}
    assert browser.open_url(URL, env=env) is True
    assert marker.read_text().strip() == URL
    assert browser.open_url(URL, env={"BROWSER": "false:/nonexistent/x", "PATH": "/usr/bin:/bin"}) is False


def test_open_url_runs_the_browser_command_with_our_environment_in_a_session_of_its_own(tmp_path: Path) -> None:
    marker = tmp_path / "opened"
    probe = script(
        tmp_path / "bin",
        "probe",
        f"#!{sys.executable}\nimport os, sys\n"
        "seen = (sys.argv[1:], os.environ.get('MARK'), os.getsid(0) == os.getpid())\n"
        f"open({str(marker)!r}, 'w').write(repr(seen))\n",
    )
    env = {"BROWSER": "/nonexistent/should-not-run", "PATH": "/usr/bin:/bin", "MARK": "ours"}
    assert browser.open_url(URL, f"{probe} --new-window %s", env=env) is True
    assert marker.read_text() == repr((["--new-window", URL], "ours", True))


@pytest.mark.parametrize(("debug_env", "debug_log"), [(False, False), (True, False), (False, True)])
def test_launcher_output_reaches_stderr_only_when_debugging(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    debug_env: bool,
    debug_log: bool,
) -> None:
    noisy = script(tmp_path / "bin", "noisy", "#!/bin/sh\necho launcher-out\necho launcher-err >&2\n")
    env = {"BROWSER": str(noisy), "PATH": "/usr/bin:/bin", **({"SCOPEDAUTH_DEBUG": "1"} if debug_env else {})}
    if debug_log:
        caplog.set_level(logging.DEBUG, logger="scopedauth")
    assert browser.open_url(URL, env=env) is True
    out, err = capfd.readouterr()
    assert "launcher" not in out  # stdout is for machines, always
    assert ("launcher-out" in err) is (debug_env or debug_log)
    assert ("launcher-err" in err) is (debug_env or debug_log)


def test_a_launcher_never_reads_what_the_user_types(tmp_path: Path) -> None:
    marker = tmp_path / "stdin"
    reader = script(tmp_path / "bin", "reader", f'#!/bin/sh\nread line || line=EOF\necho "$line" > "{marker}"\n')
    typed, sink = os.pipe()
    os.write(sink, b"https://pasted.example/?code=C\n")  # what --paste waits to read from our stdin
    os.close(sink)
    saved = os.dup(0)
    os.dup2(typed, 0)
    try:
        assert browser.open_url(URL, env={"BROWSER": str(reader), "PATH": "/usr/bin:/bin"}) is True
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(typed)
    assert marker.read_text() == "EOF\n"


def test_why_a_launcher_was_skipped_is_logged_at_debug(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="scopedauth")
    env = {"BROWSER": "/nonexistent/browser:false", "PATH": "/usr/bin:/bin"}
    assert browser.open_url(URL, env=env) is False
    assert [r.getMessage() for r in caplog.records if r.name == "scopedauth"] == [
        "cannot start /nonexistent/browser: No such file or directory",
        "false exited with status 1; trying the next way to open a browser",
    ]


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


@pytest.mark.parametrize("others", [[], ["wslview", "powershell.exe", "cmd.exe"]], ids=["alone", "among-shells"])
def test_wsl_opens_the_windows_browser_through_rundll32(
    sandbox: Sandbox, listener_port: int, tmp_path: Path, others: list[str]
) -> None:
    argv = tmp_path / "argv.jsonl"
    bin_ = tmp_path / "bin"
    for name in ["rundll32.exe", *others]:
        script(bin_, name)
    env = base_env(SCOPEDAUTH_WSL="1", SCOPEDAUTH_TEST_ARGV=str(argv), PATH=f"{bin_}:/usr/bin:/bin")
    res = login(sandbox, listener_port, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    ((name, handler, url),) = calls(argv)
    assert (name, handler) == ("rundll32.exe", "url.dll,FileProtocolHandler")
    assert url.startswith(sandbox.url + "/oidc/v1/authorize?")
    assert len(records(tmp_path)) == 1


def test_not_wsl_and_no_display_prints_the_url(sandbox: Sandbox, listener_port: int, tmp_path: Path) -> None:
    argv = tmp_path / "argv.jsonl"
    script(tmp_path / "bin", "wslview")
    env = base_env(SCOPEDAUTH_WSL="0", SCOPEDAUTH_TEST_ARGV=str(argv), PATH=f"{tmp_path / 'bin'}:/usr/bin:/bin")
    res = login(sandbox, listener_port, "--timeout", "1", env=env)
    assert res.returncode == 5  # nobody came back: the URL was printed, not opened
    assert "Open this URL in a browser" in res.stderr and "ssh -L" in res.stderr
    assert calls(argv) == []
