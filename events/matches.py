"""Match events, published by the matching service: a counterpart proposed for a need, with
its score and the reasons a person can read, then accepted by both sides, declined or expired,
scheduled, delivered, confirmed and rated. Capacity is reserved on acceptance and released on
cancellation or expiry.

A need is an open wish, a ticket triaged into a category a unit can serve, or a demand listed
on the demand list; a counterpart is an offer on the resource list (a unit's or the
community's own).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from events.envelope import IntegrationEvent
from events.units import UnitId


class NeedKind(StrEnum):
    WISH = "wish"
    TICKET = "ticket"
    DEMAND = "demand"


class Party(StrEnum):
    """Who acts on a match: the offering unit, or the community (its coordinators)."""

    UNIT = "unit"
    COMMUNITY = "community"


class DeclineReason(StrEnum):
    NO_CAPACITY = "no_capacity"
    NOT_SUITABLE = "not_suitable"
    TOO_FAR = "too_far"
    BAD_TIMING = "bad_timing"
    OTHER = "other"


class CloseReason(StrEnum):
    CLAIMED_BY_ANOTHER = "claimed_by_another"
    CLAIMED_WITH_ANOTHER_OFFER = "claimed_with_another_offer"
    """The same unit claimed the wish: its best-scored proposal is the one agreed."""
    NEED_GONE = "need_gone"
    LISTING_GONE = "listing_gone"


class Reason(BaseModel):
    """One part of a score, in words a person can read."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")]
    points: Annotated[float, Field(ge=-100, le=100)]
    zh: Annotated[str, StringConstraints(max_length=200)]
    en: Annotated[str, StringConstraints(max_length=200)]


class MatchEvent(IntegrationEvent):
    service: ClassVar[str] = "matching"
    match_id: UUID

    @property
    def aggregate_id(self) -> UUID:
        return self.match_id


class MatchProposed(MatchEvent):
    """Matching proposed an offer for a need, with its score and reasons."""

    subject_suffix: ClassVar[str] = "match.proposed"
    type: Literal["MatchProposed"] = "MatchProposed"
    need_kind: NeedKind
    need_id: UUID
    listing_id: UUID
    unit_id: UnitId | None = None
    """The offering unit; None when the offer is the community's own."""
    score: Annotated[float, Field(ge=0, le=100)]
    reasons: tuple[Reason, ...]
    expires_at: AwareDatetime


class MatchAccepted(MatchEvent):
    """One side accepted the proposal; `agreed` once both sides have."""

    subject_suffix: ClassVar[str] = "match.accepted"
    type: Literal["MatchAccepted"] = "MatchAccepted"
    by: Party
    agreed: bool


class MatchDeclined(MatchEvent):
    """One side declined the proposal; it is over."""

    subject_suffix: ClassVar[str] = "match.declined"
    type: Literal["MatchDeclined"] = "MatchDeclined"
    by: Party
    reason: DeclineReason


class MatchExpired(MatchEvent):
    """Nobody agreed before the proposal expired; reserved capacity is released."""

    subject_suffix: ClassVar[str] = "match.expired"
    type: Literal["MatchExpired"] = "MatchExpired"


class MatchClosed(MatchEvent):
    """The proposal is moot: another unit claimed the wish, or the need or the offer left."""

    subject_suffix: ClassVar[str] = "match.closed"
    type: Literal["MatchClosed"] = "MatchClosed"
    reason: CloseReason


class MatchCancelled(MatchEvent):
    """An agreed match was called off before delivery; its capacity is released."""

    subject_suffix: ClassVar[str] = "match.cancelled"
    type: Literal["MatchCancelled"] = "MatchCancelled"
    by: Party


class MatchScheduled(MatchEvent):
    """The agreed service was given a time."""

    subject_suffix: ClassVar[str] = "match.scheduled"
    type: Literal["MatchScheduled"] = "MatchScheduled"
    scheduled_for: AwareDatetime


class MatchDelivered(MatchEvent):
    """The unit reported the service delivered."""

    subject_suffix: ClassVar[str] = "match.delivered"
    type: Literal["MatchDelivered"] = "MatchDelivered"


class MatchConfirmed(MatchEvent):
    """The community confirmed the delivery."""

    subject_suffix: ClassVar[str] = "match.confirmed"
    type: Literal["MatchConfirmed"] = "MatchConfirmed"


class MatchRated(MatchEvent):
    """The receiving side rated the delivered service 1–5."""

    subject_suffix: ClassVar[str] = "match.rated"
    type: Literal["MatchRated"] = "MatchRated"
    rating: Annotated[int, Field(ge=1, le=5)]


MATCH_EVENTS: tuple[type[MatchEvent], ...] = (
    MatchProposed,
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchClosed,
    MatchCancelled,
    MatchScheduled,
    MatchDelivered,
    MatchConfirmed,
    MatchRated,
)

AnyMatchEvent = Annotated[
    MatchProposed
    | MatchAccepted
    | MatchDeclined
    | MatchExpired
    | MatchClosed
    | MatchCancelled
    | MatchScheduled
    | MatchDelivered
    | MatchConfirmed
    | MatchRated,
    Field(discriminator="type"),
]
