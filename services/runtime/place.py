"""Where and by whom: every aggregate of the tickets service lies at a `Place` in the
territory tree, and every event it records carries a `Stamp`; both are stored (with
`PLACE_AND_STAMP`, their transcodings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Transcoding

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Place:
    """Where a wish, ticket, visit or dispute belongs in the territory tree."""

    district: str
    street: str
    community: str
    grid: str | None = None


NOWHERE = Place("", "", "", None)
"""Where a record of nothing known lies: only an unlimited scope contains it."""


@dataclass(frozen=True)
class Stamp:
    """Who decided, where and when it happened, for whom, and in which conversation."""

    place: Place
    actor_id: str
    actor_role: str
    occurred_at: datetime
    on_behalf_of: str | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None


class FieldsTranscoding(Transcoding):
    """A frozen dataclass stored as the dict of its fields, under a `name` that is stored data
    (never renamed)."""

    def __init__(self, kind: type, name: str) -> None:
        self.type = kind
        self.name = name

    def encode(self, obj: Any) -> dict[str, Any]:
        return dict(obj.__dict__)

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


PLACE_AND_STAMP: tuple[Transcoding, ...] = (
    FieldsTranscoding(Place, "shiliu_place"),
    FieldsTranscoding(Stamp, "shiliu_stamp"),
)
