"""The community ticket ledger (台账): states, channels, fix rate, deadlines, money, ratings.

Positions are kept under `source:<source>/ticket`, apart from the wish and dispute ledgers,
which see other, interleaved parts of the same log.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from events.tickets import (
    Channel,
    Outcome,
    TicketAccepted,
    TicketClosed,
    TicketDeadlineBreached,
    TicketDeadlineWarned,
    TicketEscalated,
    TicketEvent,
    TicketRated,
    TicketReceived,
    TicketReopened,
    TicketResolutionReported,
    TicketTriaged,
)
from events.topology import LEDGER_TICKETS
from services.ledger.book import Book
from services.ledger.figures import Durations, by_community, durations, mean, tally
from services.runtime.database import Cursor, Row

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:ledger_tickets} ("
    "ticket_id TEXT PRIMARY KEY, district TEXT NOT NULL, street TEXT NOT NULL, "
    "community TEXT NOT NULL, state TEXT NOT NULL, channel TEXT NOT NULL, "
    "proactive INTEGER NOT NULL, category TEXT, received_at TEXT NOT NULL, accepted_at TEXT, "
    "closed_at TEXT, reopenings INTEGER NOT NULL, warnings INTEGER NOT NULL, "
    "breaches INTEGER NOT NULL, amount TEXT, rating INTEGER)",
    "CREATE INDEX IF NOT EXISTS ledger_tickets_by_community "
    "ON {t:ledger_tickets} (district, community)",
    "CREATE TABLE IF NOT EXISTS {t:ledger_ticket_escalations} ("
    "district TEXT NOT NULL, community TEXT NOT NULL, to_level TEXT NOT NULL, "
    "escalations INTEGER NOT NULL, PRIMARY KEY (district, community, to_level))",
)
_STATE_AFTER = {
    "TicketReceived": "received",
    "TicketTriaged": "triaged",
    "TicketMerged": "merged",
    "TicketDispatched": "dispatched",
    "TicketAccepted": "accepted",
    "TicketReturned": "triaged",
    "TicketWorkStarted": "in_progress",
    "TicketPutOnHold": "on_hold",
    "TicketResumed": "in_progress",
    "TicketResolutionReported": "resolution_reported",
    "TicketResolutionVerified": "verified",
    "TicketReopened": "in_progress",
}
_CLOSED = {Outcome.FIXED: "closed", Outcome.NOT_FIXED: "closed_not_fixed"}
STATES = (*dict.fromkeys(_STATE_AFTER.values()), *_CLOSED.values())
UNCATEGORISED = "uncategorised"


class TicketFigures(BaseModel):
    """What a community's tickets add up to; fix rate = fixed / (fixed + not fixed)."""

    tickets: int
    by_state: dict[str, int]
    proactive: int
    closed_fixed: int
    closed_not_fixed: int
    fix_rate: float | None
    deadline_breaches: int
    money_involved: str
    """Yuan, the last amount reported per ticket, summed."""


class CommunityTicketLedger(TicketFigures):
    district: str
    community: str
    by_channel: dict[str, int]
    by_category: dict[str, int]
    reopenings: int
    deadline_warnings: int
    escalations_by_level: dict[str, int]
    mean_rating: float | None
    received_to_accepted: Durations
    received_to_closed: Durations


class TicketCommunitySummary(TicketFigures):
    street: str
    community: str


class TicketLedger(Book[TicketEvent]):
    """The ticket ledger's tables in the ledger service's own store."""

    spec = LEDGER_TICKETS
    ddl = _DDL
    main_table = "ledger_tickets"

    @staticmethod
    def apply_event(tx: Cursor, event: TicketEvent) -> None:
        _apply(tx, event)

    def community(self, district: str, community: str) -> CommunityTicketLedger:
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT * FROM {t:ledger_tickets} WHERE district = ? AND community = ?",
                (district, community),
            )
            rows = tx.fetchall()
            tx.execute(
                "SELECT to_level, escalations FROM {t:ledger_ticket_escalations} "
                "WHERE district = ? AND community = ? ORDER BY to_level",
                (district, community),
            )
            escalations = {row["to_level"]: row["escalations"] for row in tx.fetchall()}
        return CommunityTicketLedger(
            district=district,
            community=community,
            **_figures(rows).model_dump(),
            by_channel=tally((row["channel"] for row in rows), (c.value for c in Channel)),
            by_category=tally(row["category"] or UNCATEGORISED for row in rows),
            reopenings=sum(row["reopenings"] for row in rows),
            deadline_warnings=sum(row["warnings"] for row in rows),
            escalations_by_level=escalations,
            mean_rating=mean(row["rating"] for row in rows),
            received_to_accepted=durations(rows, "received_at", "accepted_at"),
            received_to_closed=durations(rows, "received_at", "closed_at"),
        )

    def district(self, district: str) -> list[TicketCommunitySummary]:
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT * FROM {t:ledger_tickets} WHERE district = ? "
                "ORDER BY community, street, ticket_id",
                (district,),
            )
            rows = tx.fetchall()
        return [
            TicketCommunitySummary(street=street, community=c, **_figures(group).model_dump())
            for street, c, group in by_community(rows)
        ]


def _figures(rows: Sequence[Row]) -> TicketFigures:
    by_state = tally((row["state"] for row in rows), STATES)
    fixed, not_fixed = by_state["closed"], by_state["closed_not_fixed"]
    money = sum((Decimal(row["amount"]) for row in rows if row["amount"]), Decimal(0))
    return TicketFigures(
        tickets=len(rows),
        by_state=by_state,
        proactive=sum(1 for row in rows if row["proactive"]),
        closed_fixed=fixed,
        closed_not_fixed=not_fixed,
        fix_rate=round(fixed / (fixed + not_fixed), 4) if fixed + not_fixed else None,
        deadline_breaches=sum(row["breaches"] for row in rows),
        money_involved=str(money),
    )


def _apply(tx: Cursor, event: TicketEvent) -> None:
    if isinstance(event, TicketReceived):
        _receive(tx, event)
        return
    changes = _changes(event)
    if isinstance(event, TicketClosed):
        changes.append(("state = ?", _CLOSED[event.outcome]))
    elif (state := _STATE_AFTER.get(event.type)) is not None:
        changes.append(("state = ?", state))
    if isinstance(event, TicketEscalated):
        _count_escalation(tx, event)
    if changes:
        assignments = ", ".join(sql for sql, _ in changes)
        params = [value for _, value in changes]
        tx.execute(
            f"UPDATE {{t:ledger_tickets}} SET {assignments} WHERE ticket_id = ?",
            (*params, str(event.ticket_id)),
        )


def _changes(event: TicketEvent) -> list[tuple[str, Any]]:
    """The columns an event changes besides the state, as (assignment, parameter)."""
    at = event.occurred_at.isoformat()
    match event:
        case TicketTriaged():
            return [("category = ?", event.category)]
        case TicketAccepted():
            return [("accepted_at = COALESCE(accepted_at, ?)", at)]
        case TicketResolutionReported():
            # the last amount reported stands (a report without one keeps the earlier)
            amount = None if event.amount is None else str(event.amount)
            return [("amount = COALESCE(?, amount)", amount)]
        case TicketRated():
            return [("rating = ?", event.rating)]
        case TicketReopened():
            return [("reopenings = ?", event.reopenings)]
        case TicketClosed():
            return [("closed_at = ?", at)]
        case TicketDeadlineWarned():
            return [("warnings = warnings + ?", 1)]
        case TicketDeadlineBreached():
            return [("breaches = breaches + ?", 1)]
    return []


def _receive(tx: Cursor, event: TicketReceived) -> None:
    where = event.territory
    tx.execute(
        "INSERT INTO {t:ledger_tickets} (ticket_id, district, street, community, state, "
        "channel, proactive, category, received_at, reopenings, warnings, breaches) "
        "VALUES (?, ?, ?, ?, 'received', ?, ?, ?, ?, 0, 0, 0) ON CONFLICT (ticket_id) DO NOTHING",
        (str(event.ticket_id), where.district, where.street, where.community,
         event.channel.value, int(event.proactive), event.category,
         event.occurred_at.isoformat()),
    )  # fmt: skip


def _count_escalation(tx: Cursor, event: TicketEscalated) -> None:
    where = event.territory
    tx.execute(
        "INSERT INTO {t:ledger_ticket_escalations} (district, community, to_level, escalations) "
        "VALUES (?, ?, ?, 1) ON CONFLICT (district, community, to_level) DO UPDATE SET "
        "escalations = {t:ledger_ticket_escalations}.escalations + 1",
        (where.district, where.community, event.to_level.value),
    )
