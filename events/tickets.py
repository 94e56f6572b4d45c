"""Ticket events (居民点单—社区派单—单位接单—群众评单), published by the tickets service.

A resident's request (or a grid worker's own finding, 未诉先办) is received, triaged onto a
category and grid, dispatched to a handler, accepted, worked, resolved, verified and rated.
Deadlines produce warnings, breaches and escalations up the territory tree. Descriptions and
resolution notes are personal data and never travel here: only ids, codes, times and amounts.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from events.envelope import Code, Count, IntegrationEvent


class Channel(StrEnum):
    WEB = "web"
    PHONE = "phone"
    CHAT_GROUP = "chat_group"
    WALK_IN = "walk_in"
    GRID_PATROL = "grid_patrol"
    OPEN311 = "open311"


class HandlerKind(StrEnum):
    UNIT = "unit"
    VOLUNTEER_TEAM = "volunteer_team"
    GRID_WORKER = "grid_worker"
    DEPARTMENT = "department"


class Level(StrEnum):
    """The escalation ladder: grid worker → community secretary → street → district."""

    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"


class ReturnReason(StrEnum):
    NOT_OUR_REMIT = "not_our_remit"
    NO_CAPACITY = "no_capacity"
    WRONG_CATEGORY = "wrong_category"
    CANNOT_REACH = "cannot_reach"
    OTHER = "other"


class HoldReason(StrEnum):
    WAITING_FOR_PARTS = "waiting_for_parts"
    WAITING_FOR_RESIDENT = "waiting_for_resident"
    WAITING_FOR_APPROVAL = "waiting_for_approval"
    WEATHER = "weather"
    OTHER = "other"


class ReopenReason(StrEnum):
    POOR_RATING = "poor_rating"
    VERIFICATION_FAILED = "verification_failed"


class Outcome(StrEnum):
    FIXED = "fixed"
    NOT_FIXED = "not_fixed"
    """Closed without a fix: counted apart, so fix rates are not inflated."""


class DeadlineKind(StrEnum):
    ACCEPT = "accept"
    RESOLVE = "resolve"


class TicketEvent(IntegrationEvent):
    service: ClassVar[str] = "tickets"
    ticket_id: UUID

    @property
    def aggregate_id(self) -> UUID:
        return self.ticket_id


class TicketReceived(TicketEvent):
    """A request reached the community by some channel; proactive when staff found it first."""

    subject_suffix: ClassVar[str] = "ticket.received"
    type: Literal["TicketReceived"] = "TicketReceived"
    channel: Channel
    proactive: bool = False
    requester_id: str | None = None
    title: str
    category: Code | None = None
    building: Code | None = None
    visit_id: UUID | None = None


class TicketTriaged(TicketEvent):
    """The community placed the ticket on a category and grid under a routing rule version."""

    subject_suffix: ClassVar[str] = "ticket.triaged"
    type: Literal["TicketTriaged"] = "TicketTriaged"
    category: Code
    grid: Code
    rule_version: Count
    level: Level
    handler_kind: HandlerKind


class TicketMerged(TicketEvent):
    """The ticket duplicates another and was merged into it; it ends here."""

    subject_suffix: ClassVar[str] = "ticket.merged"
    type: Literal["TicketMerged"] = "TicketMerged"
    into_ticket_id: UUID


class TicketDispatched(TicketEvent):
    """The ticket was sent to a handler, who must accept it by `accept_due_at`."""

    subject_suffix: ClassVar[str] = "ticket.dispatched"
    type: Literal["TicketDispatched"] = "TicketDispatched"
    handler_kind: HandlerKind
    handler_id: str
    level: Level
    rule_version: Count
    accept_due_at: AwareDatetime
    warn_at: AwareDatetime | None = None
    """When the deadline's warning is due."""


class TicketAccepted(TicketEvent):
    """The handler accepted the ticket and must resolve it by `resolve_due_at`."""

    subject_suffix: ClassVar[str] = "ticket.accepted"
    type: Literal["TicketAccepted"] = "TicketAccepted"
    handler_id: str
    resolve_due_at: AwareDatetime
    warn_at: AwareDatetime | None = None
    """When the deadline's warning is due."""


class TicketReturned(TicketEvent):
    """The handler gave the ticket back with a reason; it awaits dispatch again."""

    subject_suffix: ClassVar[str] = "ticket.returned"
    type: Literal["TicketReturned"] = "TicketReturned"
    handler_id: str
    reason: ReturnReason


class TicketWorkStarted(TicketEvent):
    """The handler started work on the ticket."""

    subject_suffix: ClassVar[str] = "ticket.work_started"
    type: Literal["TicketWorkStarted"] = "TicketWorkStarted"


class TicketPutOnHold(TicketEvent):
    """Work is paused for a reason; the resolve clock stops."""

    subject_suffix: ClassVar[str] = "ticket.put_on_hold"
    type: Literal["TicketPutOnHold"] = "TicketPutOnHold"
    reason: HoldReason


class TicketResumed(TicketEvent):
    """Work resumed; the resolve deadline moved by the time spent on hold."""

    subject_suffix: ClassVar[str] = "ticket.resumed"
    type: Literal["TicketResumed"] = "TicketResumed"
    held_seconds: Count
    resolve_due_at: AwareDatetime | None = None
    warn_at: AwareDatetime | None = None
    """When the deadline's warning is due."""


class TicketResolutionReported(TicketEvent):
    """The handler reported the ticket resolved, with the money involved, if any."""

    subject_suffix: ClassVar[str] = "ticket.resolution_reported"
    type: Literal["TicketResolutionReported"] = "TicketResolutionReported"
    handler_id: str
    amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)] | None = None
    """Yuan involved in the problem (e.g. wages recovered, repair costs), for the ledger."""


class TicketResolutionVerified(TicketEvent):
    """The community checked the resolution on site and confirmed it."""

    subject_suffix: ClassVar[str] = "ticket.resolution_verified"
    type: Literal["TicketResolutionVerified"] = "TicketResolutionVerified"


class TicketRated(TicketEvent):
    """The resident rated the handling 1–5."""

    subject_suffix: ClassVar[str] = "ticket.rated"
    type: Literal["TicketRated"] = "TicketRated"
    rating: Annotated[int, Field(ge=1, le=5)]


class TicketReopened(TicketEvent):
    """A poor rating or a failed verification sent the ticket back to work."""

    subject_suffix: ClassVar[str] = "ticket.reopened"
    type: Literal["TicketReopened"] = "TicketReopened"
    reason: ReopenReason
    reopenings: Count
    resolve_due_at: AwareDatetime | None = None
    warn_at: AwareDatetime | None = None
    """When the deadline's warning is due."""


class TicketClosed(TicketEvent):
    """The ticket is closed, fixed or not fixed."""

    subject_suffix: ClassVar[str] = "ticket.closed"
    type: Literal["TicketClosed"] = "TicketClosed"
    outcome: Outcome


class TicketDeadlineWarned(TicketEvent):
    """A deadline is close and the handler was warned."""

    subject_suffix: ClassVar[str] = "ticket.deadline_warned"
    type: Literal["TicketDeadlineWarned"] = "TicketDeadlineWarned"
    deadline: DeadlineKind
    level: Level
    due_at: AwareDatetime


class TicketDeadlineBreached(TicketEvent):
    """A deadline passed with the step not done."""

    subject_suffix: ClassVar[str] = "ticket.deadline_breached"
    type: Literal["TicketDeadlineBreached"] = "TicketDeadlineBreached"
    deadline: DeadlineKind
    level: Level
    due_at: AwareDatetime


class TicketEscalated(TicketEvent):
    """After a breach the ticket went one level up the ladder, with a new deadline there."""

    subject_suffix: ClassVar[str] = "ticket.escalated"
    type: Literal["TicketEscalated"] = "TicketEscalated"
    from_level: Level
    to_level: Level
    resolve_due_at: AwareDatetime
    warn_at: AwareDatetime | None = None
    """When the deadline's warning is due."""


class VisitRecorded(IntegrationEvent):
    """A door-knocking visit (敲门行动) was recorded; its notes stay restricted in the store."""

    service: ClassVar[str] = "tickets"
    subject_suffix: ClassVar[str] = "visit.recorded"
    type: Literal["VisitRecorded"] = "VisitRecorded"
    visit_id: UUID
    building: Code | None = None
    households: Count
    opened_tickets: list[UUID] = Field(default_factory=list)

    @property
    def aggregate_id(self) -> UUID:
        return self.visit_id


TICKET_EVENTS: tuple[type[TicketEvent], ...] = (
    TicketReceived,
    TicketTriaged,
    TicketMerged,
    TicketDispatched,
    TicketAccepted,
    TicketReturned,
    TicketWorkStarted,
    TicketPutOnHold,
    TicketResumed,
    TicketResolutionReported,
    TicketResolutionVerified,
    TicketRated,
    TicketReopened,
    TicketClosed,
    TicketDeadlineWarned,
    TicketDeadlineBreached,
    TicketEscalated,
)

AnyTicketEvent = Annotated[
    TicketReceived
    | TicketTriaged
    | TicketMerged
    | TicketDispatched
    | TicketAccepted
    | TicketReturned
    | TicketWorkStarted
    | TicketPutOnHold
    | TicketResumed
    | TicketResolutionReported
    | TicketResolutionVerified
    | TicketRated
    | TicketReopened
    | TicketClosed
    | TicketDeadlineWarned
    | TicketDeadlineBreached
    | TicketEscalated,
    Field(discriminator="type"),
]
