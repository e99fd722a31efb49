"""Write ``scopes = …`` into one profile of ``~/.databrickscfg``, touching nothing else.

``scopedauth login --profile P --save-scopes`` records the scopes it asked for so that later
commands (ours, and databricks-sdk, which reads the same key) need only ``--profile P``. The
file is the user's: comments, ordering, blank lines, other profiles and CRLF line ends are kept
byte for byte, an existing ``scopes`` line (with any continuation lines) is replaced where it
stands, and the new file replaces the old atomically (a crash leaves one or the other).

Lines are classified the way :mod:`configparser` reads them (full-line ``#``/``;`` comments,
indented continuation lines, ``=`` or ``:`` delimiters, case-insensitive keys), and the result
is parsed again before it is written, so a file we misread is never rewritten.
"""

from __future__ import annotations

import configparser
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config import OFFLINE_ACCESS, parse_scopes, resolve_target
from ..databrickscfg import config_path
from ..errors import ConfigError

__all__ = ["edit_profile", "profile_for_save", "read_profile", "save_scopes", "with_scopes", "with_values"]

_HEADER = re.compile(r"\[(?P<header>.+)\]")
_KEY = re.compile(r"(?P<key>[^=:]*?)\s*[=:]")
_PREFIX = re.compile(r"[ \t]*[^=:\r\n]*?[ \t]*[=:][ \t]*")


def profile_for_save(target_options: Mapping[str, Any]) -> str:
    """The profile a login with these options uses; a :class:`ConfigError` when none is named.

    Called before the browser opens, so ``--save-scopes`` without a profile fails fast.
    """
    target = resolve_target(**target_options)
    if not target.profile:
        raise ConfigError("--save-scopes needs a profile: pass --profile NAME (or set DATABRICKS_CONFIG_PROFILE)")
    return target.profile


def _split_lines(text: str) -> list[tuple[str, str]]:
    """(content, line end) pairs; the last line may have no end."""
    out = []
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        out.append((body, raw[len(body) :]))
    return out


def _classify(lines: list[tuple[str, str]]) -> list[tuple[str, str | None, str | None]]:
    """(kind, section, option) per line; kinds: blank, comment, header, option, cont."""
    kinds: list[tuple[str, str | None, str | None]] = []
    section: str | None = None
    option: str | None = None
    indent = 0
    for i, (body, _) in enumerate(lines):
        text = body.lstrip("\ufeff") if i == 0 else body
        stripped = text.strip()
        if not stripped:
            kinds.append(("blank", section, option))
            continue
        if stripped.startswith(("#", ";")):
            kinds.append(("comment", section, option))
            continue
        level = len(text) - len(text.lstrip())
        if section is not None and option and level > indent:
            kinds.append(("cont", section, option))
            continue
        indent = level
        header = _HEADER.match(stripped)
        if header:
            section, option = header["header"], None
            kinds.append(("header", section, None))
            continue
        key = _KEY.match(stripped)
        if section is None or key is None:
            raise ConfigError(f"cannot read line {i + 1} of the config file; it was left untouched")
        option = key["key"].strip().lower()
        kinds.append(("option", section, option))
    return kinds


def with_scopes(text: str, profile: str, scopes: Iterable[str]) -> str:
    """``text`` with ``scopes = a, b`` set in ``[profile]``; every other byte unchanged."""
    value = ", ".join(s for s in parse_scopes(list(scopes)) if s != OFFLINE_ACCESS)
    if not value:
        raise ConfigError("no scopes to save (offline_access alone is not saved)")
    return with_values(text, profile, {"scopes": value})


def with_values(text: str, profile: str, values: Mapping[str, str | None]) -> str:
    """``text`` with each key of ``values`` set in ``[profile]`` (None: removed); every other byte unchanged.

    An existing line (with its continuation lines) is replaced where it stands; a new key goes
    after the section's last setting, in the order given.
    """
    lines = _split_lines(text)
    kinds = _classify(lines)
    headers = [i for i, (kind, sect, _) in enumerate(kinds) if kind == "header" and sect == profile]
    if len(headers) != 1:
        raise ConfigError(f"the config file has {'no' if not headers else 'more than one'} [{profile}] section")
    eol = "\r\n" if "\r\n" in text else "\n"
    out: list[str] = []
    done: set[str] = set()
    last_setting = 0  # index in out of the section's last setting (or its header)
    for (body, end), (kind, sect, opt) in zip(lines, kinds, strict=True):
        if kind == "header" and sect == profile:
            out.append(body + end)
            last_setting = len(out) - 1
            continue
        if sect == profile and opt is not None and opt in values and kind in ("option", "cont"):
            if kind == "option" and values[opt] is not None and opt not in done:
                prefix = _PREFIX.match(body)
                out.append((prefix.group(0) if prefix else f"{opt} = ") + str(values[opt]) + end)
                last_setting = len(out) - 1
            done.add(opt)
            continue  # a removed or replaced value's old lines go
        out.append(body + end)
        if sect == profile and kind in ("option", "cont"):
            last_setting = len(out) - 1
    at = last_setting
    for key, value in values.items():
        if key in done or value is None:
            continue
        if not out[at].endswith(("\n", "\r")):
            out[at] += eol
            end = ""
        else:
            end = out[at][len(out[at].rstrip("\r\n")) :]
        at += 1
        out.insert(at, f"{key} = {value}{end}")
    result = "".join(out)
    _check(result, profile, values)
    return result


def _check(text: str, profile: str, values: Mapping[str, str | None]) -> None:
    ini = configparser.ConfigParser(interpolation=None)
    try:
        ini.read_string(text.lstrip("\ufeff"))
        section = ini[profile]
    except (configparser.Error, KeyError) as exc:
        raise ConfigError(f"refusing to write the config file: it would not parse ({exc})") from exc
    if any(section.get(key) != value for key, value in values.items()):
        raise ConfigError("refusing to write the config file: a setting would not read back as written")


def save_scopes(profile: str, scopes: Iterable[str], env: Mapping[str, str] | None = None) -> Path:
    """Set ``scopes`` in ``[profile]`` of the config file, atomically; returns the file written."""
    return edit_profile(profile, lambda text: with_scopes(text, profile, scopes), env)


def read_profile(profile: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The section's own settings as the file has them now (keys lower-cased)."""
    text = _config_file(profile, env)[1].decode("utf-8")
    ini = configparser.ConfigParser(interpolation=None)
    try:
        ini.read_string(text.lstrip("\ufeff"))
        return dict(ini._sections[profile])  # type: ignore[attr-defined]
    except (configparser.Error, KeyError) as exc:
        raise ConfigError(f"cannot read [{profile}]: {exc}") from exc


def _config_file(profile: str, env: Mapping[str, str] | None) -> tuple[Path, bytes]:
    # write through a symlink, not over it
    path = Path(os.path.realpath(config_path(os.environ if env is None else env)))
    try:
        data = path.read_bytes()
        data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; create the [{profile}] profile first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return path, data


def edit_profile(profile: str, change: Callable[[str], str], env: Mapping[str, str] | None = None) -> Path:
    """Apply ``change`` to the config file's text and replace the file atomically; returns its path."""
    path, data = _config_file(profile, env)
    new = change(data.decode("utf-8")).encode("utf-8")
    if new == data:
        return path
    if not os.access(path, os.W_OK):  # an atomic rename would replace a file the user made read-only
        raise ConfigError(f"cannot write {path}: it is read-only")
    tmp: str | None = None
    try:
        mode = path.stat().st_mode & 0o777
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(new)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            Path(tmp).unlink(missing_ok=True)
    return path
