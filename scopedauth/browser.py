"""Getting the authorize URL in front of a person.

Order: ``--browser-command``, then ``$BROWSER`` (a ``:``-separated list, ``%s`` for the URL, as
Python's :mod:`webbrowser` and git read it), then WSL's bridges (``wslview``,
``powershell.exe Start-Process``, ``cmd.exe /c start``), then the platform opener. A launcher's
own output never reaches our stdout (it is for machines: ``export X=$(scopedauth token)``).
With no display and no ``$BROWSER`` there is no browser: the caller prints the URL instead.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["can_open", "is_wsl", "launchers", "open_url"]


def is_wsl() -> bool:
    try:
        return "microsoft" in Path("/proc/sys/kernel/osrelease").read_text(encoding="ascii").lower()
    except OSError:
        return False


def _command(template: str, url: str) -> list[str]:
    words = shlex.split(template)
    if any("%s" in w for w in words):
        return [w.replace("%s", url) for w in words]
    return [*words, url]


def launchers(url: str, command: str | None = None, env: Mapping[str, str] | None = None) -> list[list[str]]:
    """The commands to try, in order, for this machine."""
    env = os.environ if env is None else env
    if command:
        return [_command(command, url)]
    if env.get("BROWSER"):
        return [_command(part, url) for part in env["BROWSER"].split(os.pathsep) if part.strip()]
    found: list[list[str]] = []
    if is_wsl():
        if shutil.which("wslview"):
            found.append(["wslview", url])
        if shutil.which("powershell.exe"):
            found.append(["powershell.exe", "-NoProfile", "-Command", "Start-Process", f"'{url}'"])
        if shutil.which("cmd.exe"):
            found.append(["cmd.exe", "/c", "start", "", url.replace("&", "^&")])
        return found
    if sys.platform == "darwin":
        return [["open", url]]
    if sys.platform == "win32":
        return [["rundll32", "url.dll,FileProtocolHandler", url]]
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        for opener in ("xdg-open", "gio", "sensible-browser"):
            if shutil.which(opener):
                return [[opener, "open", url] if opener == "gio" else [opener, url]]
    return found


def can_open(command: str | None = None) -> bool:
    """Whether :func:`open_url` has anything to try (no display and no $BROWSER → False)."""
    return bool(launchers("about:blank", command))


def open_url(url: str, command: str | None = None) -> bool:
    """Start the first launcher that starts; True if one did. Its output goes nowhere."""
    debug = bool(os.environ.get("SCOPEDAUTH_DEBUG"))
    for argv in launchers(url, command):
        try:
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if not debug else sys.stderr,
                stderr=subprocess.DEVNULL if not debug else sys.stderr,
                start_new_session=True,
            )
        except OSError:
            continue
        return True
    return False
