"""A read-only Secret Service client for the hot path, speaking D-Bus through jeepney.

keyring's SecretService backend reads through secretstorage, which imports ``cryptography`` to
negotiate an encrypted transfer, and keyring itself imports and probes every backend before the
first read. For the one call ``scopedauth token`` makes — read one entry that keyring wrote —
this module asks the same daemon the same question as keyring's backend (the ``default``
collection, attributes ``service`` and ``username``) over a ``plain`` session. That transfer is
unencrypted on the user's own session bus, which any process of the same user can already read
the unlocked keyring through; it adds no exposure.

Anything unusual (locked collection or item, several matches, no daemon, an error) raises
:class:`Unusual` and the caller falls back to keyring's own backend, which can prompt to unlock
and knows every corner case. Writes always go through keyring.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Unusual", "read", "usernames"]

_BUS = "org.freedesktop.secrets"
_SERVICE_PATH = "/org/freedesktop/secrets"
_DEFAULT = "/org/freedesktop/secrets/aliases/default"


class Unusual(Exception):  # noqa: N818 - a signal to fall back, not an error for users
    """Not the simple case: let keyring handle it."""


def read(service: str, username: str, timeout: float) -> str | None:
    """The secret keyring stored for (service, username), or None when there is no such entry."""
    try:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
    except ImportError as exc:
        raise Unusual("jeepney is not installed") from exc
    svc = DBusAddress(_SERVICE_PATH, bus_name=_BUS, interface="org.freedesktop.Secret.Service")
    coll = DBusAddress(_DEFAULT, bus_name=_BUS, interface="org.freedesktop.Secret.Collection")
    try:
        with open_dbus_connection(bus="SESSION") as conn:

            def call(
                addr: DBusAddress, method: str, sig: str | None = None, body: tuple[object, ...] = ()
            ) -> tuple[Any, ...]:
                reply = conn.send_and_get_reply(new_method_call(addr, method, sig, body), timeout=timeout)
                if reply.header.message_type.name == "error":
                    raise Unusual(f"{method} failed")
                return tuple(reply.body)

            paths = call(coll, "SearchItems", "a{ss}", ({"service": service, "username": username},))[0]
            if not paths:
                return None
            if len(paths) != 1:
                raise Unusual("several matching items")
            session = call(svc, "OpenSession", "sv", ("plain", ("s", "")))[1]
            secrets = call(svc, "GetSecrets", "aoo", (paths, session))[0]
            if paths[0] not in secrets:
                raise Unusual("the item is locked")
            value = secrets[paths[0]][2]
            return bytes(value).decode("utf-8")
    except Unusual:
        raise
    except Exception as exc:  # no bus, no daemon, timeout, odd reply: keyring will say what is wrong
        raise Unusual(type(exc).__name__) from exc


def usernames(kr: Any, service: str) -> list[str] | None:
    """Every username keyring's Secret Service backend ``kr`` holds for ``service``; None for other keyrings.

    Keyrings cannot be listed in general; the Secret Service can be searched by attribute, which
    lets a corrupt index be rebuilt instead of forgetting the records it listed.
    """
    preferred = getattr(kr, "get_preferred_collection", None)
    if preferred is None:
        return None
    from contextlib import closing

    collection = preferred()
    with closing(collection.connection):  # as keyring's own backend does: one D-Bus connection per call
        found = [item.get_attributes().get("username") for item in collection.search_items({"service": service})]
    return [name for name in found if isinstance(name, str)]
