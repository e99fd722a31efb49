"""The one exception tree of scopedauth.

Every failure a caller can act on is a :class:`ScopedAuthError`, so ``except ScopedAuthError``
is enough for a program that only wants "it worked or here is why not". The leaves say what to
do next; the CLI prints ``str(error)`` and maps each branch to an exit code.

::

    ScopedAuthError
    ├── ConfigError              bad host, profile, scopes, port
    │   └── ProfileNotSavedError the grant is stored, but --save-scopes could not write the profile
    ├── LoginRequiredError       nothing usable and not interactive; carries the command to run
    ├── AuthorizationError
    │   ├── AuthorizationDeniedError   the user or server refused (error, description)
    │   ├── CallbackTimeoutError       nobody came back to the listener in time
    │   └── ListenerError              the port is busy or cannot be bound
    ├── TokenEndpointError       error, description, status
    │   └── InvalidGrantError    the code or refresh token is dead: log in again
    ├── NetworkError             the server could not be reached
    └── StorageError             keyring missing, locked, refused, or a record is corrupt

No message ever contains a token: errors carry server error codes and descriptions, never
request bodies. The server's fields (``error``, ``description``) are passed through
:func:`scopedauth.text.shown` as the error is built, so what a hostile server sent can never reach
a terminal or a page raw, whoever prints the error and however.
"""

from __future__ import annotations

from .text import shown

__all__ = [
    "AuthorizationDeniedError",
    "AuthorizationError",
    "CallbackTimeoutError",
    "ConfigError",
    "InvalidGrantError",
    "ListenerError",
    "LoginRequiredError",
    "NetworkError",
    "ProfileNotSavedError",
    "ScopedAuthError",
    "StorageError",
    "TokenEndpointError",
]

#: the longest OAuth error code kept (RFC 6749 codes are short ASCII words)
ERROR_LIMIT = 100


class ScopedAuthError(Exception):
    """Root of every error scopedauth raises on purpose."""

    #: process exit code the CLI uses for this branch of the tree
    exit_code: int = 1


class ConfigError(ScopedAuthError):
    """The request cannot be built: bad host, unknown profile, empty scopes, bad port."""

    exit_code = 2


class ProfileNotSavedError(ConfigError):
    """``login --save-scopes``: the login worked and the grant is stored, but the profile was not changed.

    Its own exit code (3), so a script can tell "logged in, write the profile yourself" from a
    configuration error that stopped everything (2).
    """

    exit_code = 3


class LoginRequiredError(ScopedAuthError):
    """Nothing usable is stored and the caller did not allow an interactive login.

    ``command`` is the exact shell command that would fix it, so tools can show it verbatim.
    """

    exit_code = 4

    def __init__(self, message: str, command: str) -> None:
        super().__init__(f"{message}\nRun: {command}")
        self.command = command


class AuthorizationError(ScopedAuthError):
    """The browser half of the login did not produce an authorization code."""

    exit_code = 5


class AuthorizationDeniedError(AuthorizationError):
    """The user clicked Deny, or the server refused the authorization request."""

    def __init__(self, error: str, description: str | None = None) -> None:
        error = shown(error, ERROR_LIMIT)
        description = None if description is None else shown(description)
        text = f"authorization refused by the server: {error}"
        if description:
            text += f" ({description})"
        super().__init__(text)
        self.error = error
        self.description = description


class CallbackTimeoutError(AuthorizationError):
    """Nobody came back to the loopback listener before the timeout."""


class ListenerError(AuthorizationError):
    """The loopback redirect listener could not be started (usually: the port is busy)."""


class TokenEndpointError(ScopedAuthError):
    """The token endpoint answered with an OAuth error or something that is not a token."""

    exit_code = 6

    def __init__(self, error: str, description: str | None = None, status: int | None = None) -> None:
        error = shown(error, ERROR_LIMIT)
        description = None if description is None else shown(description)
        text = f"token endpoint error: {error}"
        if description:
            text += f": {description}"
        if status is not None:
            text += f" (HTTP {status})"
        super().__init__(text)
        self.error = error
        self.description = description
        self.status = status


class InvalidGrantError(TokenEndpointError):
    """The authorization code or refresh token is dead: only a new login helps."""


class NetworkError(ScopedAuthError):
    """The server could not be reached (DNS, refused connection, TLS, timeout)."""

    exit_code = 7


class StorageError(ScopedAuthError):
    """The token store failed: no keyring, locked, refused, timed out, or a corrupt record."""

    exit_code = 8
