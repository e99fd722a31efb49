"""Reading ``~/.databrickscfg``: the file databricks-sdk, the Databricks CLI, dbt and MLflow share.

Parsed with :mod:`configparser` because importing databricks-sdk costs most of a second; a
differential test (tests/test_config_sdk.py) runs the real SDK on the same inputs to keep the
two in step. Writing the file (``--save-scopes``) is :mod:`scopedauth.handoff.profiles`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from .errors import ConfigError

__all__ = ["AUTH_ENV", "config_path", "is_other_host", "load_profile"]

_SETTINGS = "__settings__"
# Variables that make databricks-sdk skip the config file when no profile is named
# (its `is_any_auth_configured`); kept in step by tests/test_config_sdk.py.
AUTH_ENV = (
    "DATABRICKS_TOKEN",
    "DATABRICKS_USERNAME",
    "DATABRICKS_PASSWORD",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_METADATA_SERVICE_URL",
    "DATABRICKS_GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_CREDENTIALS",
    "DATABRICKS_AZURE_RESOURCE_ID",
    "ARM_USE_MSI",
    "ARM_CLIENT_SECRET",
    "ARM_CLIENT_ID",
    "ARM_TENANT_ID",
    "DATABRICKS_OIDC_TOKEN_ENV",
    "DATABRICKS_OIDC_TOKEN_FILEPATH",
    "DATABRICKS_OIDC_TOKEN_FILE",
)


#: what each configparser error means, by class name (configparser is imported only when needed)
_INI_PROBLEMS = {
    "MissingSectionHeaderError": "a setting before any [section] header",
    "ParsingError": "not a setting, a [section] header or a comment",
    "DuplicateSectionError": "a [section] that appears twice",
    "DuplicateOptionError": "a setting that appears twice in its section",
}


def config_path(env: Mapping[str, str]) -> Path:
    """``DATABRICKS_CONFIG_FILE`` or ``~/.databrickscfg``, as databricks-sdk reads it."""
    return Path(env.get("DATABRICKS_CONFIG_FILE") or "~/.databrickscfg").expanduser()


def _read_config(path: Path) -> str | None:
    """The config file's text; None when there is none. One that exists but cannot be read is an error.

    Not :meth:`configparser.ConfigParser.read`, which skips a file it cannot open without a word,
    so an unreadable file or a directory would look like a file without the profile.
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot parse {path}: it is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        why = "it is a directory" if isinstance(exc, IsADirectoryError) else exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read the config file {path}: {why}") from None


def load_profile(profile: str | None, env: Mapping[str, str]) -> tuple[str | None, dict[str, str]]:
    """The (name, values) of the profile databricks-sdk would use, or ``(None, {})``.

    Same order as the SDK: the named profile, ``[__settings__] default_profile``, else
    ``[DEFAULT]`` when it has keys. A profile asked for by name that does not exist is an error;
    a missing fallback is not. Values are the section's own (not merged with DEFAULT).

    Deliberately stricter than the SDK: a profile asked for by name when the file itself is
    missing is a :class:`ConfigError` (databricks-sdk silently ignores the name), and a file that
    is not UTF-8 or not INI is a :class:`ConfigError` rather than a crash.
    """
    path = config_path(env)
    text = _read_config(path)
    if text is None:
        if profile:
            raise ConfigError(f"profile {profile!r} requested but {path} does not exist")
        return None, {}
    import configparser  # only when a profile is read: a --host call never needs it

    ini = configparser.ConfigParser(interpolation=None)
    try:
        ini.read_string(text, source=str(path))
    except configparser.Error as exc:
        # not configparser's text: it quotes the offending line, which may hold a token or a secret
        lines = ", ".join(str(n) for n, _ in getattr(exc, "errors", ())) or str(getattr(exc, "lineno", "?"))
        problem = _INI_PROBLEMS.get(type(exc).__name__, type(exc).__name__)
        raise ConfigError(f"cannot parse {path}: {problem} at line {lines}") from None
    sections = {name: dict(ini._sections[name]) for name in ini.sections()}  # type: ignore[attr-defined]
    settings = sections.pop(_SETTINGS, {})
    if ini.defaults():
        sections["DEFAULT"] = dict(ini.defaults())
    fallback = False
    if profile is None:
        profile = str(settings.get("default_profile", "")).strip() or None
        if profile is None:
            profile, fallback = "DEFAULT", True
    if profile == _SETTINGS:
        raise ConfigError(f"{_SETTINGS} is a reserved section name and cannot be used as a profile")
    if profile not in sections:
        if fallback:
            return None, {}
        raise ConfigError(f"{path} has no {profile} profile configured")
    return (None if fallback else profile), {k: str(v) for k, v in sections[profile].items()}


_IGNORED_SAID: set[tuple[str, str, str]] = set()


def is_other_host(profile: str, its_host: str | None, host: str, canonical: Callable[[str], str]) -> bool:
    """True, said once per process on stderr, when the profile names another workspace than ``host``.

    For a profile only ``DATABRICKS_CONFIG_PROFILE`` chose, next to an explicit host: mixing the
    two would take that profile's client id and scopes for the wrong workspace. The line is a
    warning on the ``scopedauth`` logger, which reaches stderr whether or not logging is set up.
    """
    if not its_host:
        return False
    try:
        if canonical(its_host) == canonical(host):
            return False
    except ConfigError:
        pass  # a host that does not even parse is not ours
    if (profile, its_host, host) not in _IGNORED_SAID:
        _IGNORED_SAID.add((profile, its_host, host))
        from .log import logger

        logger().warning(
            "ignoring profile %r from DATABRICKS_CONFIG_PROFILE: its host %s is not %s, the host given explicitly",
            *(profile, its_host, host),
        )
    return True
