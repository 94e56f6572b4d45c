"""The micro-wish (微心愿) aggregate: a resident's small wish, claimed and fulfilled by units.

Public methods decide and raise; the `@event` methods only record, and run again on replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from events.wishes import (
    ClaimMode,
    RefusalReason,
    RejectionReason,
    ReleaseReason,
    WishCategory,
    WithdrawalReason,
)
from services.runtime.aggregates import Stored
from services.runtime.place import Stamp
from services.runtime.text import TITLE_MAX


class WishState(StrEnum):
    SUBMITTED = "submitted"
    OPEN = "open"
    CLAIMED = "claimed"
    FULFILMENT_REPORTED = "fulfilment_reported"
    FULFILLED = "fulfilled"
    CLOSED = "closed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


STATE_AFTER: Mapping[str, WishState] = {
    "Posted": WishState.SUBMITTED,
    "Verified": WishState.OPEN,
    "Rejected": WishState.REJECTED,
    "Claimed": WishState.CLAIMED,
    "FulfilmentReported": WishState.FULFILMENT_REPORTED,
    "FulfilmentVerified": WishState.FULFILLED,
    "Acknowledged": WishState.CLOSED,
    "Withdrawn": WishState.WITHDRAWN,
    "Expired": WishState.EXPIRED,
}
"""A wish's one event → state map, by the name its event is stored under: the aggregate and
the board view both follow it. A released claim is the one event whose state depends on the
wish (`after_release`); a refused claim changes no state."""


def after_release(claimants: Sequence[str]) -> WishState:
    """A wish whose claim was released: still claimed while someone holds it, else open."""
    return WishState.CLAIMED if claimants else WishState.OPEN


CLAIMABLE = frozenset({WishState.OPEN, WishState.CLAIMED})
WITHDRAWABLE = frozenset({WishState.SUBMITTED, WishState.OPEN, WishState.CLAIMED})


class WishError(Exception):
    """Base of the wish board's domain errors."""

    code = "wish.error"


class WishNotFoundError(WishError):
    code = "wish.not_found"

    def __init__(self, wish_id: UUID) -> None:
        super().__init__(f"no wish with id {wish_id}")
        self.wish_id = wish_id


class InvalidWishError(WishError):
    code = "wish.invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class IllegalTransitionError(WishError):
    code = "wish.illegal_transition"

    def __init__(self, action: str, state: WishState, claimants: tuple[str, ...]) -> None:
        super().__init__(f"cannot {action} a wish that is {state.value}")
        self.action = action
        self.state = state
        self.claimants = claimants


class NotAClaimantError(WishError):
    code = "wish.not_a_claimant"

    def __init__(self, unit_id: str, claimants: tuple[str, ...]) -> None:
        super().__init__(f"unit {unit_id} holds no claim on this wish")
        self.unit_id = unit_id
        self.claimants = claimants


class NotYetDueError(WishError):
    code = "wish.not_yet_due"

    def __init__(self, expires_at: datetime | None) -> None:
        when = expires_at.isoformat() if expires_at else "never"
        super().__init__(f"the wish does not expire before {when}")
        self.expires_at = expires_at


class Wish(Aggregate):
    """A micro-wish on a community's wish board."""

    category = Stored(WishCategory)
    claim_mode = Stored(ClaimMode)
    state = Stored(WishState)

    @event("Posted")
    def __init__(
        self,
        *,
        stamp: Stamp,
        resident_id: str,
        title: str,
        category: str,
        claim_mode: str,
        quota: int,
        expires_at: datetime | None,
    ) -> None:
        self.place = stamp.place
        self.resident_id = resident_id
        self.title = title
        self.category = WishCategory(category)
        self.claim_mode = ClaimMode(claim_mode)
        self.quota = quota
        self.expires_at = expires_at
        self.state = STATE_AFTER["Posted"]
        self.claimants: list[str] = []
        self.refusals = 0
        self.rating: int | None = None
        self.posted_at = stamp.occurred_at

    @classmethod
    def post(
        cls,
        *,
        stamp: Stamp,
        resident_id: str,
        title: str,
        category: WishCategory,
        claim_mode: ClaimMode,
        quota: int,
        expires_at: datetime | None,
    ) -> Wish:
        title = title.strip()
        if not 1 <= len(title) <= TITLE_MAX:
            raise InvalidWishError("title", f"must be 1–{TITLE_MAX} characters")
        if claim_mode is ClaimMode.EXCLUSIVE and quota != 1:
            raise InvalidWishError("quota", "an exclusive wish has a quota of 1")
        if quota < 1:
            raise InvalidWishError("quota", "must be at least 1")
        if expires_at is not None and expires_at <= stamp.occurred_at:
            raise InvalidWishError("expires_at", "must be in the future")
        return cls(
            stamp=stamp,
            resident_id=resident_id,
            title=title,
            category=category.value,
            claim_mode=claim_mode.value,
            quota=quota,
            expires_at=expires_at,
        )

    # Questions

    @property
    def is_full(self) -> bool:
        return len(self.claimants) >= self.quota

    def _require(self, action: str, *states: WishState) -> None:
        if self.state not in states:
            raise IllegalTransitionError(action, self.state, tuple(self.claimants))

    # Decisions

    def verify(self, stamp: Stamp) -> None:
        self._require("verify", WishState.SUBMITTED)
        self._verified(stamp=stamp)

    def reject(self, reason: RejectionReason, stamp: Stamp) -> None:
        self._require("reject", WishState.SUBMITTED)
        self._rejected(reason=reason.value, stamp=stamp)

    def claim(self, unit_id: str, stamp: Stamp) -> RefusalReason | None:
        """Claim a share; a lost race is recorded as a refusal and returned, not raised."""
        self._require("claim", *CLAIMABLE)
        if unit_id in self.claimants:
            return None
        if self.is_full:
            reason = (
                RefusalReason.ALREADY_CLAIMED
                if self.claim_mode is ClaimMode.EXCLUSIVE
                else RefusalReason.QUOTA_FULL
            )
            self._claim_refused(
                unit_id=unit_id,
                reason=reason.value,
                current_claimants=list(self.claimants),
                stamp=stamp,
            )
            return reason
        self._claimed(
            unit_id=unit_id,
            claimants=len(self.claimants) + 1,
            quota=self.quota,
            claim_mode=self.claim_mode.value,
            stamp=stamp,
        )
        return None

    def release_claim(self, unit_id: str, reason: ReleaseReason, stamp: Stamp) -> None:
        self._require("release a claim on", WishState.CLAIMED)
        self._require_claimant(unit_id)
        self._claim_released(
            unit_id=unit_id, reason=reason.value, claimants=len(self.claimants) - 1, stamp=stamp
        )

    def report_fulfilment(self, unit_id: str, stamp: Stamp) -> None:
        self._require("report fulfilment of", WishState.CLAIMED)
        self._require_claimant(unit_id)
        self._fulfilment_reported(unit_id=unit_id, stamp=stamp)

    def verify_fulfilment(self, stamp: Stamp) -> None:
        self._require("verify fulfilment of", WishState.FULFILMENT_REPORTED)
        self._fulfilment_verified(stamp=stamp)

    def acknowledge(self, rating: int | None, stamp: Stamp) -> None:
        self._require("acknowledge", WishState.FULFILLED)
        if rating is not None and not 1 <= rating <= 5:
            raise InvalidWishError("rating", "must be between 1 and 5")
        self._acknowledged(rating=rating, stamp=stamp)

    def withdraw(self, reason: WithdrawalReason, stamp: Stamp) -> None:
        self._require("withdraw", *WITHDRAWABLE)
        self._withdrawn(reason=reason.value, stamp=stamp)

    def expire(self, stamp: Stamp) -> None:
        self._require("expire", *WITHDRAWABLE)
        if self.expires_at is None or stamp.occurred_at < self.expires_at:
            raise NotYetDueError(self.expires_at)
        self._expired(stamp=stamp)

    def _require_claimant(self, unit_id: str) -> None:
        if unit_id not in self.claimants:
            raise NotAClaimantError(unit_id, tuple(self.claimants))

    # Records

    @event("Verified")
    def _verified(self, stamp: Stamp) -> None:
        self.state = STATE_AFTER["Verified"]

    @event("Rejected")
    def _rejected(self, reason: str, stamp: Stamp) -> None:
        self.state = STATE_AFTER["Rejected"]

    @event("Claimed")
    def _claimed(
        self, unit_id: str, claimants: int, quota: int, claim_mode: str, stamp: Stamp
    ) -> None:
        self.claimants = [*self.claimants, unit_id]
        self.state = STATE_AFTER["Claimed"]

    @event("ClaimRefused")
    def _claim_refused(
        self, unit_id: str, reason: str, current_claimants: list[str], stamp: Stamp
    ) -> None:
        self.refusals += 1

    @event("ClaimReleased")
    def _claim_released(self, unit_id: str, reason: str, claimants: int, stamp: Stamp) -> None:
        self.claimants = [c for c in self.claimants if c != unit_id]
        self.state = after_release(self.claimants)

    @event("FulfilmentReported")
    def _fulfilment_reported(self, unit_id: str, stamp: Stamp) -> None:
        self.state = STATE_AFTER["FulfilmentReported"]

    @event("FulfilmentVerified")
    def _fulfilment_verified(self, stamp: Stamp) -> None:
        self.state = STATE_AFTER["FulfilmentVerified"]

    @event("Acknowledged")
    def _acknowledged(self, rating: int | None, stamp: Stamp) -> None:
        self.rating = rating
        self.state = STATE_AFTER["Acknowledged"]

    @event("Withdrawn")
    def _withdrawn(self, reason: str, stamp: Stamp) -> None:
        self.state = STATE_AFTER["Withdrawn"]

    @event("Expired")
    def _expired(self, stamp: Stamp) -> None:
        self.state = STATE_AFTER["Expired"]
