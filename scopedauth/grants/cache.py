"""What this process remembers between calls, owned by one object with a public ``reset()``.

``get_token`` is called on every request a program makes, so the answer for a fresh token must
be a dictionary lookup. Four things are remembered:

- ``stores``: one :class:`TokenStore` per storage kind, so every caller shares its record cache;
- ``tokens``: the last token served per (backend, target key);
- ``hold_off``: after a failed early refresh, when to try again (monotonic seconds);
- ``picked``: the one scope set stored for (backend, host, client, account), found once;
- ``unsaved``: a rotated refresh token the store refused to save (:mod:`.rotation`). Not a
  cache: the only copy of a live credential, so only a logout of that target or a full
  ``reset()`` drops it.

Entries are keyed by the *backend object*, not the store: two TokenStores over one backend share
tokens, while a token cached for one backend is never served for another. A backend is keyed by
``id()``, and the cache keeps each such backend alive in ``_backends`` for as long as it holds
entries for it, so no other backend can be allocated at that address meanwhile.

Tests and long-running programs (after another process logged out) call :meth:`reset`;
``reset(stores=False)`` keeps ``unsaved``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Target
    from ..storage.store import TokenStore
    from ..tokens import Token

__all__ = ["CACHE", "PickKey", "ProcessCache", "Resolved", "TokenKey", "Unsaved"]

TokenKey = tuple[int, str]
PickKey = tuple[int, str, str, "str | None"]
#: store, target, token key, the config files read, and their stamps when read
Resolved = tuple["TokenStore", "Target", TokenKey, "list[Path]", "tuple[object, ...]"]


class Unsaved:
    """A rotated token only this process holds, and the retired refresh token the store holds instead."""

    __slots__ = ("next_try", "stale", "store", "token")

    def __init__(self, store: TokenStore, token: Token, stale: str | None, next_try: float) -> None:
        self.store = store
        self.token = token
        self.stale = stale
        self.next_try = next_try  # monotonic seconds: when a get_token call may next try to save it


class ProcessCache:
    """This process's tokens, hold-offs, picked scope sets and stores (see the module docstring)."""

    def __init__(self) -> None:
        self.stores: dict[str, TokenStore] = {}
        self.tokens: dict[TokenKey, Token] = {}
        self.hold_off: dict[TokenKey, float] = {}
        self.picked: dict[PickKey, Target] = {}
        #: resolved (store, target) per get_token call shape; see :func:`scopedauth.grants.session.get_token`
        self.resolved: dict[tuple[object, ...], Resolved] = {}
        self.unsaved: dict[TokenKey, Unsaved] = {}
        self._backends: dict[int, object] = {}

    def key(self, st: TokenStore, target: Target) -> TokenKey:
        """The key for ``target``'s token in ``st``'s backend (pins the backend; see module docstring)."""
        backend = st.backend
        self._backends[id(backend)] = backend
        return (id(backend), target.key)

    def pick_key(self, st: TokenStore, target: Target) -> PickKey:
        backend = st.backend
        self._backends[id(backend)] = backend
        return (id(backend), target.host, target.client_id, target.account_id)

    def forget(self, key: str) -> None:
        """Drop everything cached for this target key (after logout)."""
        for tkey in [k for k in (*self.tokens, *self.unsaved) if k[1] == key]:
            self.tokens.pop(tkey, None)
            self.hold_off.pop(tkey, None)
            self.unsaved.pop(tkey, None)
        for pick in [k for k, t in self.picked.items() if t.key == key]:
            del self.picked[pick]
        self.resolved.clear()

    def forget_pick(self, st: TokenStore, target: Target) -> None:
        """A new grant for this host may make the stored scope set ambiguous: choose again next time."""
        self.picked.pop(self.pick_key(st, target), None)
        self.resolved.clear()

    def reset(self, *, stores: bool = True) -> None:
        """Forget every cached token, hold-off and choice; with ``stores``, the open stores too."""
        self.tokens.clear()
        self.hold_off.clear()
        self.picked.clear()
        self.resolved.clear()
        if stores:
            self.stores.clear()
            self.unsaved.clear()
            self._backends.clear()


#: the process-wide cache every caller of :mod:`scopedauth.grants.session` shares
CACHE = ProcessCache()
