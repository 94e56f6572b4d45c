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


class _PlaceTranscoding(Transcoding):
    type = Place
    name = "shiliu_place"  # stored data: never renamed

    def encode(self, obj: Place) -> dict[str, Any]:
        return obj.__dict__.copy()

    def decode(self, data: dict[str, Any]) -> Place:
        return Place(**data)


class _StampTranscoding(Transcoding):
    type = Stamp
    name = "shiliu_stamp"  # stored data: never renamed

    def encode(self, obj: Stamp) -> dict[str, Any]:
        return obj.__dict__.copy()

    def decode(self, data: dict[str, Any]) -> Stamp:
        return Stamp(**data)


PLACE_AND_STAMP: tuple[Transcoding, ...] = (_PlaceTranscoding(), _StampTranscoding())
