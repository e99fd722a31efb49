"""The hosted mode's own errors, both on the :class:`~scopedauth.errors.ScopedAuthError` tree."""

from __future__ import annotations

from ..errors import AuthorizationError, ScopedAuthError

__all__ = ["CallbackError", "NotSignedInError"]


class NotSignedInError(ScopedAuthError):
    """The request has no live session: no cookie, an unknown or revoked one, or a dead grant.

    Web integrations answer it with a redirect to the login route (401 JSON for API routes).
    """

    exit_code = 4


class CallbackError(AuthorizationError):
    """The callback cannot finish a login: forged, replayed, expired or foreign ``state``. HTTP 400."""
