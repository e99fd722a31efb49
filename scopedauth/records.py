"""Immutable value objects (Target, Token, Grant) without :mod:`dataclasses`.

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis`` and ``tokenize``) and builds
each class by compiling generated source at import time: together about a quarter of what
``scopedauth token`` costs from a fresh process. :class:`Record` gives the three value classes
what they used from it — equality and hashing over chosen fields, immutability, ``replace`` —
with each class writing its own ``__init__`` (so signatures and defaults stay visible to
readers and to mypy).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

__all__ = ["Record"]

R = TypeVar("R", bound="Record")


class Record:
    """Base of an immutable value class.

    A subclass lists every field in ``__slots__``, sets them in its
    ``__init__`` through :meth:`_init`, and names in ``_compare`` the fields that make two
    values equal (default: all of them).
    """

    __slots__: ClassVar[tuple[str, ...]] = ()
    _compare: ClassVar[tuple[str, ...] | None] = None

    def _init(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def _compared(cls) -> tuple[str, ...]:
        return cls._compare if cls._compare is not None else cls.__slots__

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def replace(self: R, **changes: Any) -> R:
        """A copy with ``changes`` applied (goes through ``__init__``, so its rules apply)."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        return type(self)(**{**self._values(), **changes})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace({name}=…)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._compared())

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self._compared()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._values()))


def _rebuild(cls: type[R], values: dict[str, Any]) -> R:
    return cls(**values)
