"""Micro-wish (微心愿) events, published by the tickets service.

A resident posts a small wish ("吃一顿热腾腾的饺子"); the community verifies it; member units
claim it (alone, or jointly up to a quota), fulfil it; the community verifies the fulfilment and
the resident acknowledges it. Personal data never travels here: only person and unit ids.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from events.envelope import INT64_MAX, Count, IntegrationEvent


class ClaimMode(StrEnum):
    EXCLUSIVE = "exclusive"
    JOINT = "joint"


class WishCategory(StrEnum):
    MEAL = "meal"
    HOUSEWORK = "housework"
    COMPANY = "company"
    REPAIR = "repair"
    GOODS = "goods"
    LIGHTING = "lighting"
    MOBILITY = "mobility"
    LEARNING = "learning"
    HEALTH = "health"
    OTHER = "other"


class RefusalReason(StrEnum):
    ALREADY_CLAIMED = "already_claimed"
    QUOTA_FULL = "quota_full"
    NOT_OPEN = "not_open"


class RejectionReason(StrEnum):
    NOT_A_WISH = "not_a_wish"
    DUPLICATE = "duplicate"
    OUT_OF_SCOPE = "out_of_scope"
    INAPPROPRIATE = "inappropriate"


class WithdrawalReason(StrEnum):
    NO_LONGER_NEEDED = "no_longer_needed"
    SOLVED_ELSEWHERE = "solved_elsewhere"
    MOVED_AWAY = "moved_away"
    OTHER = "other"


class ReleaseReason(StrEnum):
    CANNOT_DELIVER = "cannot_deliver"
    CLAIMED_BY_MISTAKE = "claimed_by_mistake"
    RESIDENT_UNREACHABLE = "resident_unreachable"
    OTHER = "other"


class WishEvent(IntegrationEvent):
    service: ClassVar[str] = "tickets"
    wish_id: UUID

    @property
    def aggregate_id(self) -> UUID:
        return self.wish_id


class WishPosted(WishEvent):
    """A resident posted a micro-wish; it awaits the community's verification."""

    subject_suffix: ClassVar[str] = "wish.posted"
    type: Literal["WishPosted"] = "WishPosted"
    resident_id: str
    title: str
    category: WishCategory
    claim_mode: ClaimMode
    quota: Annotated[int, Field(ge=1, le=INT64_MAX)]
    expires_at: AwareDatetime | None = None


class WishVerified(WishEvent):
    """The community verified the wish; it is open on the wish board."""

    subject_suffix: ClassVar[str] = "wish.verified"
    type: Literal["WishVerified"] = "WishVerified"


class WishRejected(WishEvent):
    """The community rejected the wish; it never opens."""

    subject_suffix: ClassVar[str] = "wish.rejected"
    type: Literal["WishRejected"] = "WishRejected"
    reason: RejectionReason


class WishClaimed(WishEvent):
    """A member unit claimed the wish (alone, or one share of a joint wish)."""

    subject_suffix: ClassVar[str] = "wish.claimed"
    type: Literal["WishClaimed"] = "WishClaimed"
    unit_id: str
    claim_mode: ClaimMode
    claimants: Count
    quota: Count


class WishClaimRefused(WishEvent):
    """A claim lost: the wish was taken, full or not open; the current claimants are named."""

    subject_suffix: ClassVar[str] = "wish.claim_refused"
    type: Literal["WishClaimRefused"] = "WishClaimRefused"
    unit_id: str
    reason: RefusalReason
    current_claimants: list[str]


class WishClaimReleased(WishEvent):
    """A claimant gave its claim back; the share is open again."""

    subject_suffix: ClassVar[str] = "wish.claim_released"
    type: Literal["WishClaimReleased"] = "WishClaimReleased"
    unit_id: str
    reason: ReleaseReason
    claimants: Count


class WishFulfilmentReported(WishEvent):
    """A claimant reported the wish fulfilled (点亮微心愿); the community will check."""

    subject_suffix: ClassVar[str] = "wish.fulfilment_reported"
    type: Literal["WishFulfilmentReported"] = "WishFulfilmentReported"
    unit_id: str


class WishFulfilmentVerified(WishEvent):
    """The community confirmed the fulfilment."""

    subject_suffix: ClassVar[str] = "wish.fulfilment_verified"
    type: Literal["WishFulfilmentVerified"] = "WishFulfilmentVerified"


class WishAcknowledged(WishEvent):
    """The resident acknowledged the fulfilled wish, optionally rating it 1–5; it is closed."""

    subject_suffix: ClassVar[str] = "wish.acknowledged"
    type: Literal["WishAcknowledged"] = "WishAcknowledged"
    rating: Annotated[int, Field(ge=1, le=5)] | None = None


class WishWithdrawn(WishEvent):
    """The resident (or staff for them) withdrew the wish before it was fulfilled."""

    subject_suffix: ClassVar[str] = "wish.withdrawn"
    type: Literal["WishWithdrawn"] = "WishWithdrawn"
    reason: WithdrawalReason


class WishExpired(WishEvent):
    """The wish reached its expiry unfulfilled and left the board."""

    subject_suffix: ClassVar[str] = "wish.expired"
    type: Literal["WishExpired"] = "WishExpired"


WISH_EVENTS: tuple[type[WishEvent], ...] = (
    WishPosted,
    WishVerified,
    WishRejected,
    WishClaimed,
    WishClaimRefused,
    WishClaimReleased,
    WishFulfilmentReported,
    WishFulfilmentVerified,
    WishAcknowledged,
    WishWithdrawn,
    WishExpired,
)

AnyWishEvent = Annotated[
    WishPosted
    | WishVerified
    | WishRejected
    | WishClaimed
    | WishClaimRefused
    | WishClaimReleased
    | WishFulfilmentReported
    | WishFulfilmentVerified
    | WishAcknowledged
    | WishWithdrawn
    | WishExpired,
    Field(discriminator="type"),
]
