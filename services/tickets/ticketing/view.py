"""The ticket desk view: every ticket as a row, and every running deadline as a watch.

Lists and the scheduler's questions span aggregates, so they are answered here, following the
tickets log; the view's position is saved in the same transaction as its rows. A watch row
names the next instant something is due (`next_at`: the warning, then the breach), so the
scheduler asks one indexed question however many deadlines are open.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from pydantic import BaseModel

from events.disputes import (
    AgreementBreached,
    DisputeAccepted,
    DisputeDeadlineBreached,
    DisputeDeadlineExtended,
    DisputeEvent,
)
from events.envelope import IntegrationEvent
from events.tickets import (
    TicketAccepted,
    TicketClosed,
    TicketDeadlineBreached,
    TicketDeadlineWarned,
    TicketDispatched,
    TicketEscalated,
    TicketEvent,
    TicketMerged,
    TicketReceived,
    TicketReopened,
    TicketResumed,
    TicketTriaged,
)
from services.runtime.database import Cursor, Database
from services.runtime.follower import LocalView
from services.runtime.instants import utc_iso
from services.runtime.workers import StoreWorkers
from services.tickets.sweeps import PAGE_SIZE
from services.tickets.ticketing.publishing import TICKETS
from services.tickets.ticketing.states import STATE_AFTER, closed_state

VIEW_NAME = "ticket-desk-v1"
_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:ticket_list} ("
    "ticket_id TEXT PRIMARY KEY, district TEXT NOT NULL, street TEXT NOT NULL, "
    "community TEXT NOT NULL, grid TEXT, building TEXT, channel TEXT NOT NULL, "
    "proactive INTEGER NOT NULL, requester_id TEXT, title TEXT NOT NULL, category TEXT, "
    "state TEXT NOT NULL, "
    "level TEXT NOT NULL, handler_id TEXT, rule_version INTEGER, merged_into TEXT, "
    "due_at TEXT, received_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ticket_list_by_community "
    "ON {t:ticket_list} (district, community, received_at)",
    "CREATE INDEX IF NOT EXISTS ticket_list_by_district ON {t:ticket_list} (district, received_at)",
    "CREATE TABLE IF NOT EXISTS {t:deadline_watch} ("
    "aggregate_id TEXT PRIMARY KEY, kind TEXT NOT NULL, district TEXT NOT NULL, "
    "community TEXT NOT NULL, warn_at TEXT, due_at TEXT NOT NULL, warned INTEGER NOT NULL, "
    "breached INTEGER NOT NULL, next_at TEXT)",
    "CREATE INDEX IF NOT EXISTS deadline_watch_by_next ON {t:deadline_watch} (next_at)",
)
_STATE_AFTER = {
    TICKETS.fields[name][0].__name__: state.value for name, state in STATE_AFTER.items()
}
"""The ticket's event → state map (`STATE_AFTER`), by the integration event's type."""
_UNWATCHED = {
    "TicketReturned",
    "TicketResolutionReported",
    "TicketClosed",
    "TicketMerged",
    "DisputeDeclined",
    "PartyRefused",
    "DisputeReferred",
    "DisputeResolved",
    "AgreementSigned",
}
"""After these nothing of the aggregate is due (an agreement's follow-up has no deadline)."""


_LEVELS = ("district", "street", "community", "grid")


class TicketRow(BaseModel):
    ticket_id: str
    district: str
    street: str
    community: str
    grid: str | None
    building: str | None
    channel: str
    proactive: bool
    requester_id: str | None
    title: str
    category: str | None
    state: str
    level: str
    handler_id: str | None
    rule_version: int | None
    merged_into: str | None
    due_at: datetime | None
    received_at: datetime
    updated_at: datetime


class Watch(BaseModel):
    aggregate_id: UUID
    kind: str
    """`ticket` or `dispute`: which command decides."""
    next_at: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """Its place in the order things fall due."""
        return (self.next_at, str(self.aggregate_id))


def _iso(when: datetime | None) -> str | None:
    return utc_iso(when) if when is not None else None


class TicketDeskView(LocalView):
    tables = ("ticket_list", "deadline_watch")
    ddl = _DDL

    def __init__(
        self,
        *,
        database: Database,
        recorder: ApplicationRecorder,
        translate: Callable[[Notification], IntegrationEvent | None],
        poll_seconds: float = 0.5,
        workers: StoreWorkers | None = None,
    ) -> None:
        super().__init__(
            name=VIEW_NAME,
            database=database,
            recorder=recorder,
            translate=translate,
            poll_seconds=poll_seconds,
            workers=workers,
        )

    def apply(self, tx: Cursor, event: IntegrationEvent) -> bool:
        if isinstance(event, TicketEvent):
            _apply_ticket(tx, event)
            _watch(tx, event, str(event.ticket_id), "ticket")
            return True
        if isinstance(event, DisputeEvent):
            _watch(tx, event, str(event.dispute_id), "dispute")
            return True
        return False

    # Questions

    def due(
        self, now: datetime, after: tuple[str, str] | None = None, limit: int = PAGE_SIZE
    ) -> list[Watch]:
        """What is due by `now` (a warning or a breach), earliest first, after the key `after`."""
        at, aggregate = after or ("", "")
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT aggregate_id, kind, next_at FROM {t:deadline_watch} WHERE next_at <= ? "
                "AND (next_at > ? OR (next_at = ? AND aggregate_id > ?)) "
                "ORDER BY next_at, aggregate_id LIMIT ?",
                (_iso(now), at, at, aggregate, limit),
            )
            return [Watch.model_validate(dict(row)) for row in tx.fetchall()]

    def watched(self) -> int:
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT COUNT(*) AS n FROM {t:deadline_watch} WHERE next_at IS NOT NULL")
            row = tx.fetchone()
        return int(row["n"]) if row else 0

    def tickets(
        self,
        *,
        district: str,
        community: str | None = None,
        requester_id: str | None = None,
        within: Mapping[str, str] | None = None,
        ids: Sequence[str] = (),
        categories: Sequence[str] = (),
        states: Sequence[str] = (),
        received_from: datetime | None = None,
        received_until: datetime | None = None,
        untriaged: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> list[TicketRow]:
        """`untriaged` adds the tickets with no category yet to those of `categories`."""
        where, params = ["district = ?"], [district]
        for column, values in (("ticket_id", ids), ("category", categories), ("state", states)):
            if values:
                clause = f"{column} IN ({', '.join('?' * len(values))})"
                if column == "category" and untriaged:
                    clause = f"({clause} OR category IS NULL)"
                where.append(clause)
                params += list(values)
        if untriaged and not categories:
            where.append("category IS NULL")
        levels = [(level, code) for level, code in (within or {}).items() if level in _LEVELS]
        for column, value in (("community", community), ("requester_id", requester_id), *levels):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        for op, when in ((">=", received_from), ("<=", received_until)):
            if when is not None:
                where.append(f"received_at {op} ?")
                params.append(_iso(when) or "")
        statement = (
            f"SELECT * FROM {{t:ticket_list}} WHERE {' AND '.join(where)} "
            "ORDER BY received_at DESC, ticket_id LIMIT ? OFFSET ?"
        )
        with self.database.transaction(commit=False) as tx:
            tx.execute(statement, [*params, limit, offset])
            return [TicketRow.model_validate(dict(row)) for row in tx.fetchall()]


def _apply_ticket(tx: Cursor, event: TicketEvent) -> None:
    ticket_id, at = str(event.ticket_id), _iso(event.occurred_at)
    if isinstance(event, TicketReceived):
        w = event.territory
        tx.execute(
            "INSERT INTO {t:ticket_list} VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (ticket_id) DO NOTHING",
            (
                ticket_id,
                w.district,
                w.street,
                w.community,
                w.grid,
                event.building,
                event.channel.value,
                int(event.proactive),
                event.requester_id,
                event.title,
                event.category,
                _STATE_AFTER[event.type],
                "grid",
                None,
                None,
                None,
                None,
                at,
                at,
            ),
        )
        return
    changes: dict[str, Any] = {"updated_at": at}
    if (state := _STATE_AFTER.get(event.type)) is not None:
        changes["state"] = state
    if isinstance(event, TicketTriaged):
        changes |= {
            "category": event.category,
            "grid": event.grid,
            "rule_version": event.rule_version,
            "level": event.level.value,
        }
    elif isinstance(event, TicketMerged):
        changes["merged_into"] = str(event.into_ticket_id)
    elif isinstance(event, TicketDispatched):
        changes |= {"handler_id": event.handler_id, "due_at": _iso(event.accept_due_at)}
    elif isinstance(event, TicketEscalated):
        changes |= {"level": event.to_level.value, "due_at": _iso(event.resolve_due_at)}
    elif isinstance(event, TicketAccepted | TicketResumed | TicketReopened):
        changes["due_at"] = _iso(event.resolve_due_at)
    elif isinstance(event, TicketClosed):
        changes["state"] = closed_state(event.outcome).value
    if event.type in _UNWATCHED:
        changes["due_at"] = None
    assignments = ", ".join(f"{column} = ?" for column in changes)
    tx.execute(
        f"UPDATE {{t:ticket_list}} SET {assignments} WHERE ticket_id = ?",
        [*changes.values(), ticket_id],
    )


def _deadline_of(event: IntegrationEvent) -> tuple[datetime, datetime | None] | None:
    """The (due, warn) instants a fact starts or moves, if it does."""
    if isinstance(event, TicketDispatched):
        return event.accept_due_at, event.warn_at
    if isinstance(event, TicketAccepted | TicketEscalated):
        return event.resolve_due_at, event.warn_at
    if isinstance(event, TicketReopened) and event.resolve_due_at:
        return event.resolve_due_at, event.warn_at
    if isinstance(event, DisputeAccepted | AgreementBreached | DisputeDeadlineExtended):
        return event.due_at, None
    return None


def _watch(tx: Cursor, event: IntegrationEvent, aggregate_id: str, kind: str) -> None:
    if event.type in _UNWATCHED:
        tx.execute("DELETE FROM {t:deadline_watch} WHERE aggregate_id = ?", (aggregate_id,))
    elif (deadline := _deadline_of(event)) is not None:
        due, warn = _iso(deadline[0]), _iso(deadline[1])
        w = event.territory
        tx.execute(
            "INSERT INTO {t:deadline_watch} VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?) "
            "ON CONFLICT (aggregate_id) DO UPDATE SET warn_at = excluded.warn_at, "
            "due_at = excluded.due_at, warned = 0, breached = 0, next_at = excluded.next_at",
            (aggregate_id, kind, w.district, w.community, warn, due, warn or due),
        )
    elif isinstance(event, TicketResumed) and event.resolve_due_at is not None:
        # the same deadline, moved by the time on hold: a warning already given stays given
        due, warn = _iso(event.resolve_due_at), _iso(event.warn_at)
        tx.execute(
            "UPDATE {t:deadline_watch} SET due_at = ?, warn_at = ?, next_at = CASE "
            "WHEN breached = 1 THEN NULL WHEN warned = 1 THEN ? ELSE ? END WHERE aggregate_id = ?",
            (due, warn, due, warn or due, aggregate_id),
        )
    elif event.type == "TicketPutOnHold":
        tx.execute(
            "UPDATE {t:deadline_watch} SET next_at = NULL WHERE aggregate_id = ?", (aggregate_id,)
        )
    elif isinstance(event, TicketDeadlineWarned):
        tx.execute(
            "UPDATE {t:deadline_watch} SET warned = 1, next_at = due_at WHERE aggregate_id = ?",
            (aggregate_id,),
        )
    elif isinstance(event, TicketDeadlineBreached | DisputeDeadlineBreached):
        tx.execute(
            "UPDATE {t:deadline_watch} SET warned = 1, breached = 1, next_at = NULL "
            "WHERE aggregate_id = ?",
            (aggregate_id,),
        )
