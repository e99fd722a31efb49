"""Pick the store for a URL: ``sqlite:///path`` (the default), ``postgresql://…``, ``redis://…``."""

from __future__ import annotations

from ..errors import ConfigError
from .model import HostedStore, redact_url

__all__ = ["DEFAULT_STORE", "open_store"]

DEFAULT_STORE = "sqlite:///scopedauth-hosted.db"
_SQL = ("sqlite:", "sqlite+pysqlite:", "postgresql:", "postgres:", "postgresql+psycopg:")
_REDIS = ("redis:", "rediss:", "unix:")


def open_store(url: str | None, *, migrate: bool = False) -> HostedStore:
    """The store behind ``url``; ``migrate`` brings its schema up to date first.

    Raises :class:`ConfigError` for a URL no store understands, or when the ``[hosted]`` extra
    is not installed.
    """
    url = url or DEFAULT_STORE
    try:
        if url.startswith(_SQL):
            from .sqlstore import SQLStore

            store: HostedStore = SQLStore(url)
        elif url.startswith(_REDIS):
            from .redisstore import RedisStore

            store = RedisStore(url)
        else:
            raise ConfigError(
                f"unsupported hosted store {redact_url(url)!r}: use sqlite:///PATH, postgresql://… or redis://…"
            )
    except ImportError as exc:
        raise ConfigError(
            f"the hosted store needs `pip install 'scopedauth[hosted]'` ({exc.name} is missing)"
        ) from None
    if migrate:
        store.migrate()
    return store
