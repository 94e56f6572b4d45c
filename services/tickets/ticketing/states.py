"""A ticket's states, and the sets of them its rules speak of."""

from __future__ import annotations

from enum import StrEnum


class TicketState(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLUTION_REPORTED = "resolution_reported"
    VERIFIED = "verified"
    CLOSED = "closed"
    CLOSED_NOT_FIXED = "closed_not_fixed"
    MERGED = "merged"


OPEN_STATES = frozenset(TicketState) - {
    TicketState.CLOSED,
    TicketState.CLOSED_NOT_FIXED,
    TicketState.MERGED,
}
WORKING = frozenset({TicketState.ACCEPTED, TicketState.IN_PROGRESS})
