"""Stored ticket and visit events → integration events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.envelope import IntegrationEvent
from events.tickets import (
    TicketAccepted,
    TicketClosed,
    TicketDeadlineBreached,
    TicketDeadlineWarned,
    TicketDispatched,
    TicketEscalated,
    TicketMerged,
    TicketPutOnHold,
    TicketRated,
    TicketReceived,
    TicketReopened,
    TicketResolutionReported,
    TicketResolutionVerified,
    TicketResumed,
    TicketReturned,
    TicketTriaged,
    TicketWorkStarted,
    VisitRecorded,
)
from services.runtime.publishing import Publication
from services.tickets.ticketing.domain import Ticket
from services.tickets.ticketing.visits import Visit

Fields = dict[str, tuple[type[IntegrationEvent], Callable[[Any], dict[str, Any]]]]


def _deadline(e: Any) -> dict[str, Any]:
    return {"deadline": e.kind, "level": e.level, "due_at": e.due_at}


_TICKET_FIELDS: Fields = {
    "Received": (
        TicketReceived,
        lambda e: {
            "channel": e.channel,
            "proactive": e.proactive,
            "requester_id": e.requester_id,
            "title": e.title,
            "category": e.category,
            "building": e.building,
            "visit_id": e.visit_id,
        },
    ),
    "Triaged": (
        TicketTriaged,
        lambda e: {
            "category": e.category,
            "grid": e.grid,
            "rule_version": e.rule_version,
            "level": e.level,
            "handler_kind": e.handler_kind,
        },
    ),
    "Merged": (TicketMerged, lambda e: {"into_ticket_id": e.into_ticket_id}),
    "Dispatched": (
        TicketDispatched,
        lambda e: {
            "handler_kind": e.handler_kind,
            "handler_id": e.handler_id,
            "level": e.deadline.level,
            "rule_version": e.rule_version,
            "accept_due_at": e.deadline.due_at,
            "warn_at": e.deadline.warn_at,
        },
    ),
    "Accepted": (
        TicketAccepted,
        lambda e: {
            "handler_id": e.handler_id,
            "resolve_due_at": e.deadline.due_at,
            "warn_at": e.deadline.warn_at,
        },
    ),
    "Returned": (TicketReturned, lambda e: {"handler_id": e.handler_id, "reason": e.reason}),
    "WorkStarted": (TicketWorkStarted, lambda e: {}),
    "PutOnHold": (TicketPutOnHold, lambda e: {"reason": e.reason}),
    "Resumed": (
        TicketResumed,
        lambda e: {
            "held_seconds": e.held_seconds,
            "resolve_due_at": e.deadline.due_at if e.deadline else None,
            "warn_at": e.deadline.warn_at if e.deadline else None,
        },
    ),
    "ResolutionReported": (
        TicketResolutionReported,
        lambda e: {"handler_id": e.handler_id, "amount": e.amount},
    ),
    "ResolutionVerified": (TicketResolutionVerified, lambda e: {}),
    "Rated": (TicketRated, lambda e: {"rating": e.rating}),
    "Reopened": (
        TicketReopened,
        lambda e: {
            "reason": e.reason,
            "reopenings": e.reopenings,
            "resolve_due_at": e.deadline.due_at,
            "warn_at": e.deadline.warn_at,
        },
    ),
    "Closed": (TicketClosed, lambda e: {"outcome": e.outcome}),
    "DeadlineWarned": (TicketDeadlineWarned, _deadline),
    "DeadlineBreached": (TicketDeadlineBreached, _deadline),
    "Escalated": (
        TicketEscalated,
        lambda e: {
            "from_level": e.from_level,
            "to_level": e.to_level,
            "resolve_due_at": e.deadline.due_at,
            "warn_at": e.deadline.warn_at,
        },
    ),
}

TICKETS = Publication(
    Ticket, ("services.tickets.ticketing.domain:Ticket",), "ticket_id", _TICKET_FIELDS
)
VISITS = Publication(
    Visit,
    ("services.tickets.ticketing.visits:Visit",),
    "visit_id",
    {
        "Recorded": (
            VisitRecorded,
            lambda e: {
                "building": e.building,
                "households": e.households,
                "opened_tickets": e.opened_tickets,
            },
        ),
    },
)
