"""Files and directories another local user, or the user's own permissions, get in the way of.

Regression tests for issue 9's findings 9 (unreadable config files), 10 (``--save-scopes`` on a
read-only config) and 14 (a shared ``SCOPEDAUTH_CACHE_DIR``). The permission checks are real:
the command runs as ``nobody`` (``tests/otheruser.py``), because root passes every check.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from scopedauth.databrickscfg import load_profile
from scopedauth.errors import ConfigError
from scopedauth.paths import cache_dir, private_dir
from scopedauth.sandbox import Sandbox
from tests.otheruser import NOBODY, Nobody, other_user


@pytest.fixture
def nobody() -> Iterator[Nobody]:
    with other_user() as who:
        yield who


PROFILE = "[dev]\nhost = https://adb-1.azuredatabricks.net\nscopes = sql\n"


def sp_login(who: Nobody, sb: Sandbox, *extra: str, env: dict[str, str] | None = None) -> object:
    """A service principal login as nobody: no browser, and it takes the target's lock."""
    return who.run(
        *("login", "--host", sb.url, "--client-id", "sp-client", "--scopes", "sql"),
        *("--client-secret-env", "SP_SECRET", *extra),
        env=env or who.env(SP_SECRET="sp-secret"),
    )


# -- finding 9: a config file that cannot be read is an error that says so -------------------


def test_a_config_file_in_a_directory_that_cannot_be_entered(nobody: Nobody) -> None:
    locked = nobody.root / "locked"
    locked.mkdir(mode=0o700)  # root's: nobody cannot enter it
    (locked / "databrickscfg").write_text(PROFILE)
    for args in (["token", "--profile", "dev"], ["token"]):
        out = nobody.run(*args, env=nobody.env(DATABRICKS_CONFIG_FILE=str(locked / "databrickscfg")))
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr
        assert "cannot read" in out.stderr and "ermission denied" in out.stderr
        assert str(locked / "databrickscfg") in out.stderr


def test_an_unreadable_config_file_is_not_taken_for_a_missing_profile(nobody: Nobody) -> None:
    config = nobody.root / "databrickscfg"
    config.write_text(PROFILE)
    config.chmod(0o600)  # root's: nobody cannot read it
    out = nobody.run("token", "--profile", "dev", env=nobody.env(DATABRICKS_CONFIG_FILE=str(config)))
    assert out.returncode == 2, out.stderr
    assert "cannot read" in out.stderr and "ermission denied" in out.stderr
    assert "no dev profile" not in out.stderr and "Traceback" not in out.stderr


def test_a_directory_given_as_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "cfg-dir"
    folder.mkdir()
    for profile in ("dev", None):
        with pytest.raises(ConfigError, match=r"cannot read the config file .*cfg-dir: it is a directory$"):
            load_profile(profile, {"DATABRICKS_CONFIG_FILE": str(folder)})


def test_a_config_path_through_a_file_is_an_error_too(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x")
    with pytest.raises(ConfigError, match=r"cannot read the config file .*plain/databrickscfg: Not a directory$"):
        load_profile("dev", {"DATABRICKS_CONFIG_FILE": str(plain / "databrickscfg")})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("token = dapi-SECRET-1\n", "a setting before any [section] header at line 1"),
        ("[dev]\nhost = h\n\ndapi-SECRET-1\n", "not a setting, a [section] header or a comment at line 4"),
        ("[dev]\ndapi-SECRET-1\ndapi-SECRET-2\n", "not a setting, a [section] header or a comment at line 2, 3"),
        (
            "[dev]\ntoken = dapi-SECRET-1\ntoken = dapi-SECRET-1\n",
            "a setting that appears twice in its section at line 3",
        ),
        ("[dapi-SECRET-1]\n[dapi-SECRET-1]\n", "a [section] that appears twice at line 2"),
    ],
)
def test_a_config_file_that_is_not_ini_names_the_line_never_its_text(tmp_path: Path, text: str, problem: str) -> None:
    """configparser's messages quote the offending line: a token pasted into the file would reach stderr."""
    config = tmp_path / "databrickscfg"
    config.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_profile("dev", {"DATABRICKS_CONFIG_FILE": str(config)})
    assert str(info.value) == f"cannot parse {config}: {problem}"
    assert "SECRET" not in str(info.value) and info.value.__cause__ is None


# -- finding 10: --save-scopes on a config the user cannot write --------------------------------


def test_save_scopes_on_a_read_only_config_says_the_grant_is_stored(nobody: Nobody, sandbox: Sandbox) -> None:
    config = nobody.root / "databrickscfg"  # root's file in root's directory: nobody may read, not write
    text = f"[dev]\nhost = {sandbox.url}\nclient_id = sp-client\n"
    config.write_text(text)
    config.chmod(0o644)
    env = nobody.env(SP_SECRET="sp-secret", DATABRICKS_CONFIG_FILE=str(config))
    out = nobody.run(
        *("login", "--profile", "dev", "--scopes", "sql", "--client-secret-env", "SP_SECRET", "--save-scopes"),
        env=env,
    )
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    assert "grant is stored" in out.stderr and "not changed" in out.stderr
    assert str(config) in out.stderr
    assert config.read_text() == text
    token = nobody.run("token", "--profile", "dev", "--scopes", "sql", env=env)
    assert token.returncode == 0, token.stderr  # the grant really is stored
    assert sandbox.stats.client_credentials == 1


def test_save_scopes_respects_a_read_only_file_in_a_writable_directory(nobody: Nobody, sandbox: Sandbox) -> None:
    config = nobody.home / "databrickscfg"
    text = f"[dev]\nhost = {sandbox.url}\nclient_id = sp-client\n"
    config.write_text(text)
    os.chown(config, NOBODY, NOBODY)
    config.chmod(0o444)  # the user made it read-only: an atomic rename would silently replace it
    out = nobody.run(
        *("login", "--profile", "dev", "--scopes", "sql", "--client-secret-env", "SP_SECRET", "--save-scopes"),
        env=nobody.env(SP_SECRET="sp-secret"),
    )
    assert out.returncode == 3, out.stderr
    assert "read-only" in out.stderr and "grant is stored" in out.stderr
    assert config.read_text() == text


# -- finding 14: a shared SCOPEDAUTH_CACHE_DIR ---------------------------------------------------


@pytest.fixture
def shared(nobody: Nobody) -> Path:
    """A /tmp-like directory (1777) both users may write in."""
    path = nobody.root / "shared"
    path.mkdir()
    path.chmod(0o1777)
    return path


def test_another_users_locks_in_a_shared_cache_dir_block_nothing(
    nobody: Nobody, sandbox: Sandbox, shared: Path
) -> None:
    """The audit's repro: another user created ``locks/`` there first, and every login failed (exit 8)."""
    (shared / "locks").mkdir(mode=0o700)  # root got there first
    (shared / "keyring-backend").write_text("keyrings.alt.file:PlaintextKeyring")
    out = sp_login(nobody, sandbox, env=nobody.env(SP_SECRET="sp-secret", SCOPEDAUTH_CACHE_DIR=str(shared)))
    assert out.returncode == 0, out.stderr
    own = shared / f"user-{NOBODY}"
    info = own.lstat()
    assert stat.S_ISDIR(info.st_mode) and info.st_uid == NOBODY
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert (own / "locks").is_dir()


@pytest.mark.parametrize("planted", ["directory", "symlink"])
def test_a_per_user_cache_dir_another_user_owns_is_refused(
    nobody: Nobody, sandbox: Sandbox, shared: Path, planted: str
) -> None:
    own = shared / f"user-{NOBODY}"
    if planted == "directory":
        own.mkdir(mode=0o777)  # root's, open to all: root could read and swap our lock files
        own.chmod(0o777)
    else:
        (shared / "elsewhere").mkdir()
        own.symlink_to(shared / "elsewhere")
    out = sp_login(nobody, sandbox, env=nobody.env(SP_SECRET="sp-secret", SCOPEDAUTH_CACHE_DIR=str(shared)))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert str(own) in out.stderr
    assert ("another user" if planted == "directory" else "not a directory") in out.stderr
    assert sandbox.stats.client_credentials == 0  # refused before anything was minted


def test_the_per_user_cache_dir_is_created_0700_and_kept_so(isolated_env: Path) -> None:
    old = os.umask(0)
    try:
        locks = private_dir(cache_dir() / "locks")
    finally:
        os.umask(old)
    own = isolated_env / "cache" / f"user-{os.getuid()}"
    assert cache_dir() == own and locks == own / "locks"
    assert stat.S_IMODE(own.stat().st_mode) == 0o700
    own.chmod(0o755)  # loosened by hand: ours, so tightened again
    private_dir(cache_dir() / "locks")
    assert stat.S_IMODE(own.stat().st_mode) == 0o700


def test_a_remembered_keyring_is_read_only_from_a_cache_dir_of_our_own(isolated_env: Path) -> None:
    """The hint names a class to instantiate: one another user wrote could pick a plaintext keyring."""
    from scopedauth.storage import backends

    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    own = cache_dir()
    own.mkdir(parents=True, mode=0o700)
    (own / "keyring-backend").write_text("tests.keyring_backends:DictKeyring")
    assert type(backends._remembered()).__name__ == "DictKeyring"  # ours: the hint is used
    os.chown(own, NOBODY, NOBODY)
    assert backends._remembered() is None  # another user's: discover instead
    with pytest.raises(ConfigError, match="another user"):
        private_dir(own / "locks")
