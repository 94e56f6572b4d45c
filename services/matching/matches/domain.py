"""A match: an offer proposed for a need (a wish, a triaged ticket, a listed demand) with a
score and its reasons, then agreed by both sides, scheduled, delivered, confirmed and rated;
or declined, expired, closed or cancelled.

Public methods decide and raise; the `@event` methods only record, and run again on replay.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from events.matches import CloseReason, DeclineReason, NeedKind, Party, Reason
from services.runtime.aggregates import Stored
from services.runtime.place import Place, Stamp

_NAMESPACE = uuid5(NAMESPACE_URL, "https://shiliu.invalid/matches")


def match_key(need_kind: NeedKind, need_id: UUID, listing_id: UUID) -> UUID:
    """One proposal per need and offer, whoever proposes it and however often."""
    return uuid5(_NAMESPACE, f"{need_kind.value}:{need_id}:{listing_id}")


class MatchState(StrEnum):
    PROPOSED = "proposed"
    AGREED = "agreed"
    SCHEDULED = "scheduled"
    DELIVERED = "delivered"
    CONFIRMED = "confirmed"
    RATED = "rated"
    DECLINED = "declined"
    EXPIRED = "expired"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN = frozenset({MatchState.PROPOSED})
UNDER_WAY = frozenset({MatchState.AGREED, MatchState.SCHEDULED})
LIVE = OPEN | UNDER_WAY
"""A match that serves, or may still serve, its need."""
HOLDS_CAPACITY = frozenset({MatchState.AGREED, MatchState.SCHEDULED, MatchState.DELIVERED,
                            MatchState.CONFIRMED, MatchState.RATED})  # fmt: skip
"""Once both sides agreed, the offer's capacity is taken until the match is called off."""


class MatchError(Exception):
    code = "match.error"


class MatchNotFoundError(MatchError):
    code = "match.not_found"

    def __init__(self, match_id: UUID) -> None:
        super().__init__(f"no match with id {match_id}")
        self.match_id = match_id


class MatchTransitionError(MatchError):
    code = "match.illegal_transition"

    def __init__(self, action: str, state: MatchState) -> None:
        super().__init__(f"cannot {action} a match that is {state.value}")
        self.state = state


class NotYetExpiredError(MatchError):
    code = "match.not_yet_due"

    def __init__(self, expires_at: datetime) -> None:
        super().__init__(f"the proposal is open until {expires_at.isoformat()}")


class Match(Aggregate):
    """One proposal of an offer for a need, and what became of it."""

    need_kind = Stored(NeedKind)
    state = Stored(MatchState)

    @staticmethod
    def create_id(need_kind: str, need_id: UUID, listing_id: UUID) -> UUID:
        return match_key(NeedKind(need_kind), need_id, listing_id)

    @event("Proposed")
    def __init__(
        self,
        *,
        need_kind: str,
        need_id: UUID,
        listing_id: UUID,
        unit_id: str | None,
        score: float,
        reasons: tuple[Reason, ...],
        expires_at: datetime,
        stamp: Stamp,
    ) -> None:
        self.need_kind = NeedKind(need_kind)
        self.need_id = need_id
        self.listing_id = listing_id
        self.unit_id = unit_id
        self.score = score
        self.reasons = tuple(reasons)
        self.expires_at = expires_at
        self.place: Place = stamp.place
        self.proposed_at = stamp.occurred_at
        self.state = MatchState.PROPOSED
        self.accepted_by: list[str] = []
        self.scheduled_for: datetime | None = None
        self.rating: int | None = None

    @classmethod
    def propose(
        cls,
        *,
        need_kind: NeedKind,
        need_id: UUID,
        listing_id: UUID,
        unit_id: str | None,
        score: float,
        reasons: tuple[Reason, ...],
        expires_at: datetime,
        stamp: Stamp,
    ) -> Match:
        return cls(
            need_kind=need_kind.value, need_id=need_id, listing_id=listing_id, unit_id=unit_id,
            score=round(score, 2), reasons=reasons, expires_at=expires_at, stamp=stamp,
        )  # fmt: skip

    @property
    def agreed(self) -> bool:
        return self.state in HOLDS_CAPACITY

    def accept(self, by: Party, stamp: Stamp) -> bool:
        """Accept for one side; True when this acceptance made both sides agree."""
        if self.state is not MatchState.PROPOSED or by.value in self.accepted_by:
            raise MatchTransitionError(f"accept for the {by.value}", self.state)
        both = len(self.accepted_by) == 1
        self._accepted(by=by.value, agreed=both, stamp=stamp)
        return both

    def decline(self, by: Party, reason: DeclineReason, stamp: Stamp) -> None:
        if self.state is not MatchState.PROPOSED:
            raise MatchTransitionError("decline", self.state)
        self._declined(by=by.value, reason=reason.value, stamp=stamp)

    def expire(self, now: datetime, stamp: Stamp) -> None:
        if self.state is not MatchState.PROPOSED:
            raise MatchTransitionError("expire", self.state)
        if now < self.expires_at:
            raise NotYetExpiredError(self.expires_at)
        self._expired(stamp=stamp)

    def close(self, reason: CloseReason, stamp: Stamp) -> None:
        if self.state is not MatchState.PROPOSED:
            raise MatchTransitionError("close", self.state)
        self._closed(reason=reason.value, stamp=stamp)

    def cancel(self, by: Party, stamp: Stamp) -> None:
        if self.state not in UNDER_WAY:
            raise MatchTransitionError("cancel", self.state)
        self._cancelled(by=by.value, stamp=stamp)

    def schedule(self, when: datetime, stamp: Stamp) -> None:
        if self.state not in UNDER_WAY:
            raise MatchTransitionError("schedule", self.state)
        self._scheduled(scheduled_for=when, stamp=stamp)

    def deliver(self, stamp: Stamp) -> None:
        if self.state not in UNDER_WAY:
            raise MatchTransitionError("report delivered", self.state)
        self._delivered(stamp=stamp)

    def confirm(self, stamp: Stamp) -> None:
        if self.state is not MatchState.DELIVERED:
            raise MatchTransitionError("confirm", self.state)
        self._confirmed(stamp=stamp)

    def rate(self, rating: int, stamp: Stamp) -> None:
        if self.state is not MatchState.CONFIRMED:
            raise MatchTransitionError("rate", self.state)
        self._rated(rating=rating, stamp=stamp)

    @event("Accepted")
    def _accepted(self, by: str, agreed: bool, stamp: Stamp) -> None:
        self.accepted_by = [*self.accepted_by, by]
        if agreed:
            self.state = MatchState.AGREED

    @event("Declined")
    def _declined(self, by: str, reason: str, stamp: Stamp) -> None:
        self.state = MatchState.DECLINED

    @event("Expired")
    def _expired(self, stamp: Stamp) -> None:
        self.state = MatchState.EXPIRED

    @event("Closed")
    def _closed(self, reason: str, stamp: Stamp) -> None:
        self.state = MatchState.CLOSED

    @event("Cancelled")
    def _cancelled(self, by: str, stamp: Stamp) -> None:
        self.state = MatchState.CANCELLED

    @event("Scheduled")
    def _scheduled(self, scheduled_for: datetime, stamp: Stamp) -> None:
        self.state = MatchState.SCHEDULED
        self.scheduled_for = scheduled_for

    @event("Delivered")
    def _delivered(self, stamp: Stamp) -> None:
        self.state = MatchState.DELIVERED

    @event("Confirmed")
    def _confirmed(self, stamp: Stamp) -> None:
        self.state = MatchState.CONFIRMED

    @event("Rated")
    def _rated(self, rating: int, stamp: Stamp) -> None:
        self.state = MatchState.RATED
        self.rating = rating
