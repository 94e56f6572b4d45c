"""The ticket aggregate: a resident's request (or a proactive finding) from receipt to close.

Deadlines live on the ticket: each has a generation, so a warning or breach is recorded at
most once per deadline however often (or by however many schedulers) it is proposed.

Longer than ~300 lines because it is one aggregate: its decisions and the `@event` methods they
record belong together, and the event classes are nested in `Ticket`, so every stored topic
names this module and class (splitting them across modules would move stored topics).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from events.tickets import (
    Channel,
    DeadlineKind,
    HandlerKind,
    HoldReason,
    Level,
    Outcome,
    ReopenReason,
    ReturnReason,
)
from services.runtime.place import Place, Stamp
from services.runtime.text import TITLE_MAX
from services.tickets.routing import CategoryRule
from services.tickets.ticketing.deadline import Deadline
from services.tickets.ticketing.errors import (
    InvalidTicketError,
    NotTheHandlerError,
    TicketError,
    TicketNotFoundError,
    TicketTransitionError,
)
from services.tickets.ticketing.states import (
    OPEN_STATES,
    STATE_AFTER,
    WORKING,
    TicketState,
    closed_state,
)

POOR_RATING = 2
"""A rating at or below this reopens the ticket."""

__all__ = [
    "OPEN_STATES",
    "POOR_RATING",
    "WORKING",
    "Deadline",
    "InvalidTicketError",
    "NotTheHandlerError",
    "Ticket",
    "TicketError",
    "TicketNotFoundError",
    "TicketState",
    "TicketTransitionError",
]


class Ticket(Aggregate):
    """A request to the community, routed down the territory tree and up its ladder."""

    @event("Received")
    def __init__(
        self,
        *,
        stamp: Stamp,
        channel: str,
        proactive: bool,
        requester_id: str | None,
        title: str,
        category: str | None,
        building: str | None,
        visit_id: UUID | None = None,
    ) -> None:
        self.place = stamp.place
        self.channel = Channel(channel)
        self.proactive = proactive
        self.requester_id = requester_id
        self.title = title
        self.category = category
        self.building = building
        self.visit_id = visit_id
        self.state = STATE_AFTER["Received"]
        self.received_at = stamp.occurred_at
        self.updated_at = stamp.occurred_at
        self.rule: CategoryRule | None = None
        """The routing rule in effect when the ticket was triaged: it keeps its deadlines."""
        self.rule_version: int | None = None
        self.level = Level.GRID.value
        self.handler_kind: str | None = None
        self.handler_id: str | None = None
        self.deadline: Deadline | None = None
        self.generations = 0
        self.amount: Decimal | None = None
        self.rating: int | None = None
        self.reopenings = 0
        self.breaches = 0
        self.merged_into: UUID | None = None
        self.duplicates: list[UUID] = []
        self.outcome: str | None = None

    @classmethod
    def receive(
        cls,
        *,
        stamp: Stamp,
        channel: Channel,
        proactive: bool,
        requester_id: str | None,
        title: str,
        category: str | None,
        building: str | None,
        visit_id: UUID | None = None,
    ) -> Ticket:
        title = title.strip()
        if not 1 <= len(title) <= TITLE_MAX:
            raise InvalidTicketError("title", f"must be 1–{TITLE_MAX} characters")
        if not proactive and requester_id is None:
            raise InvalidTicketError("requester_id", "a request that is not proactive has one")
        return cls(
            stamp=stamp,
            channel=channel.value,
            proactive=proactive,
            requester_id=requester_id,
            title=title,
            category=category,
            building=building,
            visit_id=visit_id,
        )

    # Questions

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def is_in_community_of(self, other: Ticket) -> bool:
        """Community codes repeat across districts: the same community is the same place in
        the territory tree, district and community both."""
        mine, theirs = self.place, other.place
        return (mine.district, mine.community) == (theirs.district, theirs.community)

    def _rule(self) -> CategoryRule:
        assert self.rule is not None, "triaged tickets carry their rule"
        return self.rule

    def _require(self, action: str, *states: TicketState) -> None:
        if self.state not in states:
            raise TicketTransitionError(action, self.state)

    def _require_handler(self, handler_id: str) -> None:
        if handler_id != self.handler_id:
            raise NotTheHandlerError(handler_id, self.handler_id)

    def _deadline(self, kind: DeadlineKind, start: datetime, within: timedelta) -> Deadline:
        return Deadline.starting(
            self.generations + 1, kind, Level(self.level), start, within, self._rule().warn_fraction
        )

    # Decisions

    def triage(
        self, *, category: str, grid: str, rule: CategoryRule, version: int, stamp: Stamp
    ) -> None:
        self._require("triage", TicketState.RECEIVED, TicketState.TRIAGED)
        place = Place(self.place.district, self.place.street, self.place.community, grid)
        self._triaged(
            category=category,
            grid=grid,
            place=place,
            rule=rule.model_dump(mode="json"),
            rule_version=version,
            level=rule.level.value,
            handler_kind=rule.handler_kind.value,
            stamp=stamp,
        )

    def merge_into(self, target: Ticket, stamp: Stamp) -> None:
        self._require("merge", TicketState.RECEIVED, TicketState.TRIAGED)
        if target.id == self.id:
            raise InvalidTicketError("into_ticket_id", "a ticket cannot be merged into itself")
        if not target.is_open or not target.is_in_community_of(self):
            raise InvalidTicketError(
                "into_ticket_id", "must be an open ticket of the same community"
            )
        self._merged(into_ticket_id=target.id, stamp=stamp)
        target._duplicate_attached(ticket_id=self.id, stamp=stamp)

    def dispatch(self, *, handler_kind: HandlerKind, handler_id: str, stamp: Stamp) -> None:
        self._require("dispatch", TicketState.TRIAGED)
        deadline = self._deadline(
            DeadlineKind.ACCEPT, stamp.occurred_at, self._rule().accept_within
        )
        self._dispatched(
            handler_kind=handler_kind.value,
            handler_id=handler_id,
            rule_version=self.rule_version,
            deadline=deadline,
            stamp=stamp,
        )

    def accept(self, handler_id: str, stamp: Stamp) -> None:
        self._require("accept", TicketState.DISPATCHED)
        self._require_handler(handler_id)
        deadline = self._resolve_deadline(stamp.occurred_at)
        self._accepted(handler_id=handler_id, deadline=deadline, stamp=stamp)

    def _resolve_deadline(self, start: datetime) -> Deadline:
        rule = self._rule()
        within = (
            rule.resolve_within
            if self.level == rule.level.value
            else (rule.escalate_within[Level(self.level)])
        )
        return self._deadline(DeadlineKind.RESOLVE, start, within)

    def return_ticket(self, handler_id: str, reason: ReturnReason, stamp: Stamp) -> None:
        self._require("return", TicketState.DISPATCHED, TicketState.ACCEPTED)
        self._require_handler(handler_id)
        self._returned(handler_id=handler_id, reason=reason.value, stamp=stamp)

    def start_work(self, handler_id: str, stamp: Stamp) -> None:
        self._require("start work on", TicketState.ACCEPTED)
        self._require_handler(handler_id)
        self._work_started(stamp=stamp)

    def put_on_hold(self, handler_id: str, reason: HoldReason, stamp: Stamp) -> None:
        self._require("put on hold", *WORKING)
        self._require_handler(handler_id)
        self._put_on_hold(reason=reason.value, stamp=stamp)

    def resume(self, handler_id: str, stamp: Stamp) -> None:
        self._require("resume", TicketState.ON_HOLD)
        self._require_handler(handler_id)
        deadline = self.deadline
        since = deadline.held_since if deadline is not None else None
        held = stamp.occurred_at - since if since is not None else timedelta(0)
        self._resumed(
            held_seconds=max(0, int(held.total_seconds())),
            deadline=deadline.moved(held) if deadline is not None else None,
            stamp=stamp,
        )

    def report_resolution(self, handler_id: str, amount: Decimal | None, stamp: Stamp) -> None:
        self._require("report the resolution of", *WORKING)
        self._require_handler(handler_id)
        if amount is not None and amount < 0:
            raise InvalidTicketError("amount", "must not be negative")
        self._resolution_reported(handler_id=handler_id, amount=amount, stamp=stamp)

    def verify_resolution(self, passed: bool, stamp: Stamp) -> None:
        self._require("verify the resolution of", TicketState.RESOLUTION_REPORTED)
        if passed:
            self._resolution_verified(stamp=stamp)
        else:
            self._reopen(ReopenReason.VERIFICATION_FAILED, stamp)

    def rate(self, rating: int, stamp: Stamp) -> None:
        self._require("rate", TicketState.VERIFIED)
        if not 1 <= rating <= 5:
            raise InvalidTicketError("rating", "must be between 1 and 5")
        self._rated(rating=rating, stamp=stamp)
        if rating <= POOR_RATING:
            self._reopen(ReopenReason.POOR_RATING, stamp)
        else:
            self._closed(outcome=Outcome.FIXED.value, stamp=stamp)

    def close(self, stamp: Stamp) -> None:
        """Close a verified ticket the resident did not rate."""
        self._require("close", TicketState.VERIFIED)
        self._closed(outcome=Outcome.FIXED.value, stamp=stamp)

    def close_not_fixed(self, stamp: Stamp) -> None:
        self._require("close as not fixed", *(OPEN_STATES - {TicketState.VERIFIED}))
        self._closed(outcome=Outcome.NOT_FIXED.value, stamp=stamp)

    def _reopen(self, reason: ReopenReason, stamp: Stamp) -> None:
        self._reopened(
            reason=reason.value,
            reopenings=self.reopenings + 1,
            deadline=self._resolve_deadline(stamp.occurred_at),
            stamp=stamp,
        )

    def watch(self, stamp: Stamp) -> list[str]:
        """Record what is due of the current deadline by now: a warning, or a breach and an
        escalation. Returns what was recorded (nothing when it was recorded before)."""
        deadline, now = self.deadline, stamp.occurred_at
        if deadline is None or deadline.held_since is not None:
            return []
        if not self.is_open or deadline.breached:
            return []
        if now >= deadline.due_at:
            return self._breach(deadline, stamp)
        if now >= deadline.warn_at and not deadline.warned:
            self._deadline_warned(
                generation=deadline.generation,
                kind=deadline.kind,
                level=deadline.level,
                due_at=deadline.due_at,
                stamp=stamp,
            )
            return ["warned"]
        return []

    def _breach(self, deadline: Deadline, stamp: Stamp) -> list[str]:
        self._deadline_breached(
            generation=deadline.generation,
            kind=deadline.kind,
            level=deadline.level,
            due_at=deadline.due_at,
            stamp=stamp,
        )
        rule = self._rule()
        upper = rule.next_level(Level(deadline.level))
        if upper is None:
            return ["breached"]
        escalated = Deadline.starting(
            self.generations + 1,
            DeadlineKind.RESOLVE,
            upper,
            stamp.occurred_at,
            rule.escalate_within[upper],
            rule.warn_fraction,
        )
        self._escalated(
            from_level=deadline.level, to_level=upper.value, deadline=escalated, stamp=stamp
        )
        return ["breached", "escalated"]

    # Records

    def _touch(self, stamp: Stamp) -> None:
        self.updated_at = stamp.occurred_at

    def _set_deadline(self, deadline: Deadline | None) -> None:
        self.deadline = deadline
        if deadline is not None:
            self.generations = max(self.generations, deadline.generation)

    @event("Triaged")
    def _triaged(
        self,
        category: str,
        grid: str,
        place: Place,
        rule: Mapping[str, object],
        rule_version: int,
        level: str,
        handler_kind: str,
        stamp: Stamp,
    ) -> None:
        # Stored as the rule's JSON (stored data keeps that shape); validated once, here.
        self.category, self.place, self.rule_version = category, place, rule_version
        self.rule = CategoryRule.model_validate(rule)
        self.level, self.handler_kind = level, handler_kind
        self.state = STATE_AFTER["Triaged"]
        self._touch(stamp)

    @event("Merged")
    def _merged(self, into_ticket_id: UUID, stamp: Stamp) -> None:
        self.merged_into = into_ticket_id
        self.state = STATE_AFTER["Merged"]
        self._set_deadline(None)
        self._touch(stamp)

    @event("DuplicateAttached")
    def _duplicate_attached(self, ticket_id: UUID, stamp: Stamp) -> None:
        self.duplicates = [*self.duplicates, ticket_id]

    @event("Dispatched")
    def _dispatched(
        self,
        handler_kind: str,
        handler_id: str,
        rule_version: int | None,
        deadline: Deadline,
        stamp: Stamp,
    ) -> None:
        self.handler_kind, self.handler_id = handler_kind, handler_id
        self.state = STATE_AFTER["Dispatched"]
        self._set_deadline(deadline)
        self._touch(stamp)

    @event("Accepted")
    def _accepted(self, handler_id: str, deadline: Deadline, stamp: Stamp) -> None:
        self.state = STATE_AFTER["Accepted"]
        self._set_deadline(deadline)
        self._touch(stamp)

    @event("Returned")
    def _returned(self, handler_id: str, reason: str, stamp: Stamp) -> None:
        self.handler_id = None
        self.state = STATE_AFTER["Returned"]
        self._set_deadline(None)
        self._touch(stamp)

    @event("WorkStarted")
    def _work_started(self, stamp: Stamp) -> None:
        self.state = STATE_AFTER["WorkStarted"]
        self._touch(stamp)

    @event("PutOnHold")
    def _put_on_hold(self, reason: str, stamp: Stamp) -> None:
        self.state = STATE_AFTER["PutOnHold"]
        if self.deadline is not None:
            self.deadline = replace(self.deadline, held_since=stamp.occurred_at)
        self._touch(stamp)

    @event("Resumed")
    def _resumed(self, held_seconds: int, deadline: Deadline | None, stamp: Stamp) -> None:
        self.state = STATE_AFTER["Resumed"]
        self._set_deadline(deadline)
        self._touch(stamp)

    @event("ResolutionReported")
    def _resolution_reported(self, handler_id: str, amount: Decimal | None, stamp: Stamp) -> None:
        self.amount = amount
        self.state = STATE_AFTER["ResolutionReported"]
        self._set_deadline(None)
        self._touch(stamp)

    @event("ResolutionVerified")
    def _resolution_verified(self, stamp: Stamp) -> None:
        self.state = STATE_AFTER["ResolutionVerified"]
        self._touch(stamp)

    @event("Rated")
    def _rated(self, rating: int, stamp: Stamp) -> None:
        self.rating = rating
        self._touch(stamp)

    @event("Reopened")
    def _reopened(self, reason: str, reopenings: int, deadline: Deadline, stamp: Stamp) -> None:
        self.reopenings = reopenings
        self.state = STATE_AFTER["Reopened"]
        self._set_deadline(deadline)
        self._touch(stamp)

    @event("Closed")
    def _closed(self, outcome: str, stamp: Stamp) -> None:
        self.outcome = outcome
        self.state = closed_state(outcome)
        self._set_deadline(None)
        self._touch(stamp)

    @event("DeadlineWarned")
    def _deadline_warned(
        self, generation: int, kind: str, level: str, due_at: datetime, stamp: Stamp
    ) -> None:
        if self.deadline is not None:
            self.deadline = replace(self.deadline, warned=True)

    @event("DeadlineBreached")
    def _deadline_breached(
        self, generation: int, kind: str, level: str, due_at: datetime, stamp: Stamp
    ) -> None:
        self.breaches += 1
        if self.deadline is not None:
            self.deadline = replace(self.deadline, warned=True, breached=True)

    @event("Escalated")
    def _escalated(self, from_level: str, to_level: str, deadline: Deadline, stamp: Stamp) -> None:
        self.level = to_level
        self._set_deadline(deadline)
        self._touch(stamp)
