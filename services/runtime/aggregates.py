"""What the aggregates of every writing service need beyond the eventsourcing library."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar, overload

E = TypeVar("E", bound=StrEnum)


class Stored(Generic[E]):
    """An enum attribute that comes back as the enum however the aggregate was loaded. A
    snapshot keeps the state as JSON, where a `StrEnum` is a plain string (the JSON encoder
    never asks a transcoding about a `str`): a wish loaded from one used to hold its claim
    mode as a string, and every later claim failed."""

    def __init__(self, kind: type[E]) -> None:
        self.kind = kind
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Stored[E]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> E: ...
    def __get__(self, instance: object | None, owner: type) -> Stored[E] | E:
        if instance is None:
            return self
        value: Any = instance.__dict__[self.name]
        return value if type(value) is self.kind else self.kind(value)

    def __set__(self, instance: object, value: E) -> None:
        instance.__dict__[self.name] = value
