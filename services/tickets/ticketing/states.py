"""A ticket's states, and the sets of them its rules speak of."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from events.tickets import Outcome


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


STATE_AFTER: Mapping[str, TicketState] = {
    "Received": TicketState.RECEIVED,
    "Triaged": TicketState.TRIAGED,
    "Merged": TicketState.MERGED,
    "Dispatched": TicketState.DISPATCHED,
    "Accepted": TicketState.ACCEPTED,
    "Returned": TicketState.TRIAGED,
    "WorkStarted": TicketState.IN_PROGRESS,
    "PutOnHold": TicketState.ON_HOLD,
    "Resumed": TicketState.IN_PROGRESS,
    "ResolutionReported": TicketState.RESOLUTION_REPORTED,
    "ResolutionVerified": TicketState.VERIFIED,
    "Reopened": TicketState.IN_PROGRESS,
}
"""A ticket's one event → state map, by the name its event is stored under: the aggregate and
the ticket desk view both follow it. Closing depends on the outcome (`closed_state`); the
other events (rated, deadlines, escalations, duplicates) change no state."""


def closed_state(outcome: str) -> TicketState:
    """Closed as fixed, or "closed, not fixed" (its own outcome)."""
    return TicketState.CLOSED if outcome == Outcome.FIXED.value else TicketState.CLOSED_NOT_FIXED
