"""Real :class:`keyring.backend.KeyringBackend` subclasses for tests: dict-backed, with failure modes.

Each one behaves like a keyring backend from the outside (the ``keyring`` metaclass registers
it, ``set_password`` validates the username, errors are ``keyring.errors`` types). Their
``priority`` raises, so keyring's own discovery never picks one of them in any test process.
"""

from __future__ import annotations

import threading

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import InitError, KeyringLocked, PasswordDeleteError, PasswordSetError

#: Windows Credential Manager's CRED_MAX_CREDENTIAL_BLOB_SIZE: 5 * 512 bytes of UTF-16-LE
WINDOWS_BLOB_BYTES = 2560


class DictKeyring(KeyringBackend):
    """Passwords in a dict keyed by (service, username); counts calls."""

    @properties.classproperty
    def priority(cls) -> float:  # noqa: N805 - a class property
        raise RuntimeError("a test keyring: never chosen by discovery")

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.passwords: dict[tuple[str, str], str] = {}
        self.calls: list[tuple[str, str]] = []

    def entries(self, service: str) -> dict[str, str]:
        return {user: value for (svc, user), value in self.passwords.items() if svc == service}

    def get_password(self, service: str, username: str) -> str | None:
        self.calls.append(("get", username))
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls.append(("set", username))
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.calls.append(("delete", username))
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError("No such password!")


class CappedKeyring(DictKeyring):
    """Like Windows Credential Manager: refuses a value over 2560 bytes of UTF-16-LE.

    ``scopedauth_max_value`` is the cap in the unit scopedauth reads it in (UTF-16 code units).
    """

    scopedauth_max_value = WINDOWS_BLOB_BYTES // 2

    def set_password(self, service: str, username: str, password: str) -> None:
        size = len(password.encode("utf-16-le", "surrogatepass"))
        if size > WINDOWS_BLOB_BYTES:
            raise PasswordSetError(f"the credential blob is {size} bytes; the limit is {WINDOWS_BLOB_BYTES}")
        super().set_password(service, username, password)


class FlakyKeyring(CappedKeyring):
    """A capped keyring whose ``fail_on_set``-th write from now raises PasswordSetError."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_on_set: int | None = None
        self._sets = 0

    def arm(self, nth: int) -> None:
        self.fail_on_set, self._sets = nth, 0

    def set_password(self, service: str, username: str, password: str) -> None:
        self._sets += 1
        if self.fail_on_set is not None and self._sets == self.fail_on_set:
            self.fail_on_set = None
            raise PasswordSetError("the disk is full (simulated)")
        super().set_password(service, username, password)


class SlowKeyring(DictKeyring):
    """``get_password`` hangs (like a Secret Service waiting on a prompt) until released."""

    def __init__(self, delay: float = 5.0) -> None:
        super().__init__()
        self.delay = delay
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(self.delay)
        return super().get_password(service, username)


class LockedKeyring(DictKeyring):
    """Every call fails the way a locked collection whose prompt was dismissed does."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


class RefusingKeyring(DictKeyring):
    """Refuses writes (``refuse_set``) or deletes (``refuse_delete``) once told to.

    The refusal message quotes the value, as some real backends do, so tests can check that
    scopedauth never repeats it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.refuse_set = False
        self.refuse_delete = False

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.refuse_set:
            raise PasswordSetError(f"refused to store {password!r}")
        super().set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        if self.refuse_delete:
            raise PasswordDeleteError("access denied")
        super().delete_password(service, username)


class BrokenKeyring(DictKeyring):
    """Instantiates fine but cannot reach its service (a remembered keyring in the wrong session)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise InitError("Failed to create the collection: no D-Bus session")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise InitError("Failed to create the collection: no D-Bus session")

    def delete_password(self, service: str, username: str) -> None:
        raise InitError("Failed to create the collection: no D-Bus session")
