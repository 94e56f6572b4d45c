"""What the dispatcher answers: a ticket's public fields, and the outcome of a command."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel

from events.tickets import Channel
from services.tickets.ticketing.domain import Ticket, TicketState


class DeadlineView(BaseModel):
    kind: str
    level: str
    due_at: datetime
    warn_at: datetime
    warned: bool
    breached: bool
    paused: bool


class TicketSnapshot(BaseModel):
    """A ticket's public fields: what staff and dashboards see (no description, no contact)."""

    id: UUID
    district: str
    street: str
    community: str
    grid: str | None
    building: str | None
    channel: Channel
    proactive: bool
    requester_id: str | None
    title: str
    category: str | None
    state: TicketState
    rule_version: int | None
    level: str
    handler_kind: str | None
    handler_id: str | None
    deadline: DeadlineView | None
    amount: Decimal | None
    rating: int | None
    reopenings: int
    breaches: int
    merged_into: UUID | None
    duplicates: list[UUID]
    outcome: str | None
    received_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, t: Ticket) -> TicketSnapshot:
        d = t.deadline
        deadline = (
            None
            if d is None
            else DeadlineView(
                kind=d.kind,
                level=d.level,
                due_at=d.due_at,
                warn_at=d.warn_at,
                warned=d.warned,
                breached=d.breached,
                paused=d.held_since is not None,
            )
        )
        return cls(
            id=t.id,
            district=t.place.district,
            street=t.place.street,
            community=t.place.community,
            grid=t.place.grid,
            building=t.building,
            channel=t.channel,
            proactive=t.proactive,
            requester_id=t.requester_id,
            title=t.title,
            category=t.category,
            state=t.state,
            rule_version=t.rule_version,
            level=t.level,
            handler_kind=t.handler_kind,
            handler_id=t.handler_id,
            deadline=deadline,
            amount=t.amount,
            rating=t.rating,
            reopenings=t.reopenings,
            breaches=t.breaches,
            merged_into=t.merged_into,
            duplicates=list(t.duplicates),
            outcome=t.outcome,
            received_at=t.received_at,
            updated_at=t.updated_at,
            version=t.version,
        )


class TicketOutcome(BaseModel):
    ticket: TicketSnapshot
    recorded: list[str] = []
    """What a deadline watch recorded (warned, breached, escalated)."""
    position: int = 0


class VisitOutcome(BaseModel):
    visit_id: UUID
    opened_tickets: list[UUID]
    position: int = 0


class VisitNotes(BaseModel):
    """A door-knocking visit with its restricted notes (the visit diary, 民情日记)."""

    visit_id: UUID
    district: str
    community: str
    grid: str | None
    building: str | None
    visited_at: datetime
    visitor_id: str
    households: int
    opened_tickets: list[UUID]
    notes: str | None
    """None when none were written, or when every household's data was erased."""
