"""Getting the authorize URL in front of a person.

Order: ``--browser-command``, then ``$BROWSER`` (a ``:``-separated list, ``%s`` for the URL, as
Python's :mod:`webbrowser` and git read it), then WSL's bridge to the Windows browser, then the
platform opener (``open``, ``rundll32``, or ``xdg-open``/``gio``/``sensible-browser`` when a
display exists). A launcher that exits non-zero at once (not installed, no display) hands over
to the next one.

The URL is data no shell parses. :func:`open_url` takes only a URL that
:func:`scopedauth.urls.parse_url` accepts (https, RFC 3986 characters: no quotes of any kind,
no spaces, no backslashes), and hands it to a program as one element of an argument vector,
never inside a command string. From WSL that program is
``rundll32.exe url.dll,FileProtocolHandler URL``: WSL's interop passes the vector on as a
Windows command line, rundll32 gives the rest of that line to ``FileProtocolHandler``, which
calls ``ShellExecute`` on it, with no ``cmd`` or PowerShell in between (the common choice of
Go programs on Windows, and ours there too). Not used, on purpose:
``powershell.exe -Command "Start-Process '…'"`` (a command string: ``’`` U+2019 closes a
PowerShell quote as ``'`` does), ``cmd.exe /c start`` (``|``, ``&`` and ``^`` are cmd syntax,
and sub-delimiters RFC 3986 allows), and wslu's ``wslview`` (it builds
``powershell.exe -Command "Start \"URL\""`` itself, where ``$(…)`` in a URL would run), and
``explorer.exe URL`` (it exits 1 even when it opened the page, so a failure cannot be told).
A ``--browser-command`` or ``$BROWSER`` template is the user's own program: the URL replaces
``%s`` inside one word of its vector; a template that itself runs ``sh -c`` is theirs to quote.

A launcher's own output never reaches our stdout, which is for machines
(``export X=$(scopedauth token)``): it goes nowhere, or to stderr with ``SCOPEDAUTH_DEBUG`` set
or ``--debug`` (the ``scopedauth`` logger at DEBUG).
With nothing to try there is no browser, and the caller prints the URL instead.

WSL is detected from ``/proc/sys/kernel/osrelease``; ``SCOPEDAUTH_WSL=1`` (or ``0``) declares
it either way, for tests and for kernels that do not say "microsoft".
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from ..urls import parse_url

__all__ = ["LAUNCH_GRACE", "WSL_ENV", "can_open", "is_wsl", "launchers", "open_url", "split_command"]

log = logging.getLogger("scopedauth")
WSL_ENV = "SCOPEDAUTH_WSL"
#: how long a launcher may take to fail before we take it as having opened the browser
LAUNCH_GRACE = 0.3
_OSRELEASE = Path("/proc/sys/kernel/osrelease")


def is_wsl(env: Mapping[str, str] | None = None) -> bool:
    """Whether we run under Windows Subsystem for Linux (``SCOPEDAUTH_WSL`` overrides)."""
    env = os.environ if env is None else env
    declared = env.get(WSL_ENV, "").strip().lower()
    if declared in ("1", "true", "yes"):
        return True
    if declared in ("0", "false", "no"):
        return False
    try:
        return "microsoft" in _OSRELEASE.read_text(encoding="ascii").lower()
    except OSError:
        return False


def split_command(template: str, *, win32: bool | None = None) -> list[str]:
    """The words of a ``--browser-command`` / ``$BROWSER`` entry.

    POSIX shell rules, except on Windows (``win32``, default: this platform), where a backslash
    is a path separator, not an escape: ``"C:\\Program Files\\…\\firefox.exe" %s`` keeps its
    backslashes, and the quotes around a word are dropped.
    """
    if not (sys.platform == "win32" if win32 is None else win32):
        return shlex.split(template)
    words = shlex.split(template, posix=False)
    return [w[1:-1] if len(w) >= 2 and w[0] == w[-1] and w[0] in "\"'" else w for w in words]


def _command(template: str, url: str) -> list[str]:
    words = split_command(template)
    if any("%s" in w for w in words):
        return [w.replace("%s", url) for w in words]
    return [*words, url]


def _wsl_bridges(url: str, env: Mapping[str, str]) -> list[list[str]]:
    """The Windows browser from inside WSL: rundll32's URL handler, the URL as its own argument."""
    if shutil.which("rundll32.exe", path=env.get("PATH")):
        return [["rundll32.exe", "url.dll,FileProtocolHandler", url]]
    return []


def launchers(url: str, command: str | None = None, env: Mapping[str, str] | None = None) -> list[list[str]]:
    """The commands to try, in order, for this machine (``env`` stands in for os.environ)."""
    env = os.environ if env is None else env
    if command:
        return [_command(command, url)]
    if env.get("BROWSER"):
        return [_command(part, url) for part in env["BROWSER"].split(os.pathsep) if part.strip()]
    found = _wsl_bridges(url, env) if is_wsl(env) else []
    if sys.platform == "darwin":
        return [*found, ["open", url]]
    if sys.platform == "win32":
        return [*found, ["rundll32", "url.dll,FileProtocolHandler", url]]
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):  # also WSLg, after the Windows bridges
        for opener in ("xdg-open", "gio", "sensible-browser"):
            if shutil.which(opener, path=env.get("PATH")):
                found.append([opener, "open", url] if opener == "gio" else [opener, url])
                break
    return found


def can_open(command: str | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Whether :func:`open_url` has anything to try (no display and no $BROWSER → False)."""
    return bool(launchers("about:blank", command, env))


def open_url(url: str, command: str | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Start the first launcher that does not fail at once; True if one did.

    ``url`` must pass :func:`scopedauth.urls.parse_url` (a :class:`ConfigError` if not), so that
    only RFC 3986 characters reach a launcher. A launcher still running after
    :data:`LAUNCH_GRACE` seconds, or one that exited 0, counts as opened (``xdg-open`` returns
    at once, a browser binary keeps running). Its output goes nowhere: it must never reach our
    stdout.
    """
    url = str(parse_url(url, "sign-in URL"))
    debug = bool((os.environ if env is None else env).get("SCOPEDAUTH_DEBUG")) or log.isEnabledFor(logging.DEBUG)
    sink = sys.stderr if debug else subprocess.DEVNULL
    for argv in launchers(url, command, env):
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, start_new_session=True, env=env
            )
        except OSError as exc:
            log.debug("cannot start %s: %s", argv[0], exc.strerror)
            continue
        try:
            code = proc.wait(timeout=LAUNCH_GRACE)
        except subprocess.TimeoutExpired:
            _reap_when_done(proc)
            return True
        if code == 0:
            return True
        log.debug("%s exited with status %s; trying the next way to open a browser", argv[0], code)
    return False


def _reap_when_done(proc: subprocess.Popen[bytes]) -> None:
    """Wait for a launcher that is still running (a browser binary) in a daemon thread.

    Dropping it running is a ResourceWarning in the caller's program, and once it exits nobody
    would reap it: a zombie until some later Popen happens to.
    """
    import threading

    threading.Thread(target=proc.wait, name="scopedauth-browser-reaper", daemon=True).start()
