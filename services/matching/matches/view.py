"""The matches as tables, following the matching log: each match's state (what the unit's
page, the coordinator's view and the capacity count read), each unit's record (what the
scoring's ratings and fairness read), and the demands listed (needs, like wishes and tickets).

It also answers matching's candidate query: the offers that could serve a need, with what
is left of their capacity and their unit's record, straight from these tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import ApplicationRecorder, Notification
from pydantic import BaseModel

from events.envelope import IntegrationEvent
from events.evaluations import UnitEvaluated, period_dates
from events.listings import (
    ListingChanged,
    ListingEvent,
    ListingPaused,
    ListingPublished,
    ListingResumed,
    ListingWithdrawn,
    Side,
)
from events.matches import (
    MatchAccepted,
    MatchCancelled,
    MatchClosed,
    MatchConfirmed,
    MatchDeclined,
    MatchDelivered,
    MatchEvent,
    MatchExpired,
    MatchProposed,
    MatchRated,
    MatchScheduled,
    NeedKind,
    Reason,
)
from services.matching.matches.domain import HOLDS_CAPACITY, MatchState
from services.matching.needs import (
    ENDED,
    FILLED,
    GONE,
    OPEN,
    PAUSED,
    SERVED,
    recast_if_changed,
    record_change,
)
from services.runtime.database import Cursor, Database
from services.runtime.follower import LocalView
from services.runtime.instants import utc_iso
from services.runtime.workers import StoreWorkers

VIEW_NAME = "matching-matches-v1"
_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:match_board} (match_id TEXT PRIMARY KEY, "
    "need_kind TEXT NOT NULL, need_id TEXT NOT NULL, listing_id TEXT NOT NULL, unit_id TEXT, "
    "district TEXT NOT NULL, community TEXT NOT NULL, score REAL NOT NULL, "
    "reasons TEXT NOT NULL, state TEXT NOT NULL, accepted_by TEXT NOT NULL, "
    "expires_at TEXT NOT NULL, proposed_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS match_board_by_need ON {t:match_board} (need_kind, need_id)",
    "CREATE INDEX IF NOT EXISTS match_board_by_unit ON {t:match_board} (unit_id, state)",
    "CREATE INDEX IF NOT EXISTS match_board_by_listing ON {t:match_board} (listing_id, state)",
    "CREATE INDEX IF NOT EXISTS match_board_by_expiry ON {t:match_board} (state, expires_at)",
    "CREATE TABLE IF NOT EXISTS {t:unit_records} (unit_id TEXT PRIMARY KEY, "
    "open_matches INTEGER NOT NULL, agreed INTEGER NOT NULL, delivered INTEGER NOT NULL, "
    "ratings INTEGER NOT NULL, rating_total INTEGER NOT NULL, evaluation REAL, "
    "last_helped_at TEXT)",
)
_STATE_AFTER: dict[type[MatchEvent], MatchState] = {
    MatchDeclined: MatchState.DECLINED,
    MatchExpired: MatchState.EXPIRED,
    MatchClosed: MatchState.CLOSED,
    MatchCancelled: MatchState.CANCELLED,
    MatchScheduled: MatchState.SCHEDULED,
    MatchDelivered: MatchState.DELIVERED,
    MatchConfirmed: MatchState.CONFIRMED,
    MatchRated: MatchState.RATED,
}
"""The match's one event → state map, by integration event (an acceptance depends on `agreed`)."""


class MatchEntry(BaseModel):
    match_id: str
    need_kind: NeedKind
    need_id: str
    listing_id: str
    unit_id: str | None
    district: str
    community: str
    score: float
    reasons: list[Reason]
    state: MatchState
    accepted_by: list[str]
    expires_at: datetime
    proposed_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None


class MatchesView(LocalView):
    tables = ("match_board", "unit_records")
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
            name=VIEW_NAME, database=database, recorder=recorder, translate=translate,
            poll_seconds=poll_seconds, workers=workers,
        )  # fmt: skip

    def create_tables(self) -> None:
        super().create_tables()
        self.database.add_column("match_board", "delivered_at", "TEXT")  # older stores
        self.database.add_column("unit_records", "evaluation_ends", "TEXT")

    def apply(self, tx: Cursor, event: IntegrationEvent) -> bool:
        if isinstance(event, UnitEvaluated):
            _record(tx, event.unit_id)
            ends = str(period_dates(event.period)[1])
            tx.execute(
                "UPDATE {t:unit_records} SET evaluation = ?, evaluation_ends = ? "
                "WHERE unit_id = ? AND (evaluation_ends IS NULL OR evaluation_ends <= ?)",
                (event.total, ends, event.unit_id, ends),
            )  # a late closure of an earlier period does not replace a later one
            return True
        if isinstance(event, MatchEvent):
            _apply_match(tx, event)
            return True
        if isinstance(event, ListingEvent):
            _apply_demand(tx, event)
            return True
        return False

    def matches(
        self, *, need: tuple[NeedKind, UUID] | None = None, unit_id: str | None = None,
        district: str | None = None, community: str | None = None,
        states: Sequence[MatchState] = (), limit: int = 100, offset: int = 0,
    ) -> list[MatchEntry]:  # fmt: skip
        statement, params = "SELECT * FROM {t:match_board} WHERE 1 = 1", []
        for column, value in (("district", district), ("community", community)):
            if value is not None:
                statement += f" AND {column} = ?"
                params.append(value)
        if need is not None:
            statement += " AND need_kind = ? AND need_id = ?"
            params += [need[0].value, str(need[1])]
        if unit_id is not None:
            statement += " AND unit_id = ?"
            params.append(unit_id)
        if states:
            statement += f" AND state IN ({', '.join('?' * len(states))})"
            params += [s.value for s in states]
        statement += " ORDER BY score DESC, match_id LIMIT ? OFFSET ?"
        with self.database.transaction(commit=False) as tx:
            tx.execute(statement, [*params, limit, offset])
            return [entry(row) for row in tx.fetchall()]

    def due_for_expiry(self, now: datetime, limit: int = 200) -> list[UUID]:
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT match_id FROM {t:match_board} WHERE state = ? AND expires_at <= ? "
                "ORDER BY expires_at, match_id LIMIT ?",
                (MatchState.PROPOSED.value, _utc(now), limit),
            )
            return [UUID(row["match_id"]) for row in tx.fetchall()]


def entry(row: Any) -> MatchEntry:
    data = dict(row)
    data["reasons"] = orjson.loads(data["reasons"])
    data["accepted_by"] = orjson.loads(data["accepted_by"])
    return MatchEntry.model_validate(data)


def _utc(at: datetime) -> str:
    return utc_iso(at)


def _record(tx: Cursor, unit_id: str | None, **deltas: int) -> None:
    if unit_id is None:
        return
    tx.execute(
        "INSERT INTO {t:unit_records} (unit_id, open_matches, agreed, delivered, ratings, "
        "rating_total) VALUES (?, 0, 0, 0, 0, 0) ON CONFLICT (unit_id) DO NOTHING",
        (unit_id,),
    )
    if not deltas:
        return
    assignments = ", ".join(f"{column} = {column} + ?" for column in deltas)
    tx.execute(
        f"UPDATE {{t:unit_records}} SET {assignments} WHERE unit_id = ?",
        [*deltas.values(), unit_id],
    )


def _apply_match(tx: Cursor, event: MatchEvent) -> None:
    at = event.occurred_at.isoformat()
    match_id = str(event.match_id)
    if isinstance(event, MatchProposed):
        tx.execute(
            "INSERT INTO {t:match_board} (match_id, need_kind, need_id, listing_id, unit_id, "
            "district, community, score, reasons, state, accepted_by, expires_at, proposed_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (match_id) DO NOTHING",
            (match_id, event.need_kind.value, str(event.need_id), str(event.listing_id),
             event.unit_id, event.territory.district, event.territory.community, event.score,
             orjson.dumps([r.model_dump(mode="json") for r in event.reasons]).decode(),
             MatchState.PROPOSED.value, "[]", _utc(event.expires_at), at, at),
        )  # fmt: skip
        _record(tx, event.unit_id, open_matches=1)
        return
    tx.execute("SELECT need_kind, need_id, unit_id, state, accepted_by FROM {t:match_board} "
               "WHERE match_id = ?", (match_id,))  # fmt: skip
    row = tx.fetchone()
    if row is None:
        return
    unit_id, accepted_by = row["unit_id"], orjson.loads(row["accepted_by"])
    state = _STATE_AFTER.get(type(event))
    if isinstance(event, MatchAccepted):
        accepted_by.append(event.by.value)
        state = MatchState.AGREED if event.agreed else None
        if event.agreed:
            _record(tx, unit_id, agreed=1)
    elif isinstance(event, MatchDeclined | MatchExpired | MatchClosed | MatchCancelled):
        _record(tx, unit_id, open_matches=-1)
    elif isinstance(event, MatchDelivered):
        _record(tx, unit_id, open_matches=-1, delivered=1)
        tx.execute("UPDATE {t:match_board} SET delivered_at = ? WHERE match_id = ?",
                   (_utc(event.occurred_at), match_id))  # fmt: skip
        if unit_id is not None:
            tx.execute("UPDATE {t:unit_records} SET last_helped_at = ? WHERE unit_id = ?",
                       (at, unit_id))  # fmt: skip
    elif isinstance(event, MatchRated):
        _record(tx, unit_id, ratings=1, rating_total=event.rating)
    changes: dict[str, Any] = {"accepted_by": orjson.dumps(accepted_by).decode(), "updated_at": at}
    if state is not None:
        changes["state"] = state.value
    assignments = ", ".join(f"{column} = ?" for column in changes)
    tx.execute(f"UPDATE {{t:match_board}} SET {assignments} WHERE match_id = ?",
               [*changes.values(), match_id])  # fmt: skip
    if isinstance(event, MatchAccepted | MatchCancelled) and row["need_kind"] != "wish":
        _fill(tx, row["need_kind"], row["need_id"], at)


def _fill(tx: Cursor, kind: str, need_id: str, at: str) -> None:
    """A demand or a ticket is served once it holds as many agreed matches as it wants (a
    claim in tickets decides for a wish): then it is filled and its open proposals close; a
    cancellation below that opens it again for proposals."""
    holding = [s.value for s in HOLDS_CAPACITY]
    marks = ", ".join("?" * len(holding))
    tx.execute(f"SELECT COUNT(*) AS n FROM {{t:match_board}} WHERE need_kind = ? AND need_id = ? "
               f"AND state IN ({marks})", (kind, need_id, *holding))  # fmt: skip
    agreed = tx.fetchone()
    tx.execute("SELECT quota, state FROM {t:needs} WHERE need_kind = ? AND need_id = ?",
               (kind, need_id))  # fmt: skip
    need = tx.fetchone()
    if need is None or agreed is None:
        return
    full = int(agreed["n"]) >= int(need["quota"])
    if full and need["state"] == OPEN:
        tx.execute("UPDATE {t:needs} SET state = ? WHERE need_kind = ? AND need_id = ?",
                   (FILLED, kind, need_id))  # fmt: skip
        record_change(tx, kind, need_id, SERVED, at)
    elif not full and need["state"] == FILLED:
        tx.execute("UPDATE {t:needs} SET state = ?, proposed = 0 "
                   "WHERE need_kind = ? AND need_id = ?", (OPEN, kind, need_id))  # fmt: skip


def _apply_demand(tx: Cursor, event: ListingEvent) -> None:
    """A demand listed is a need for offers of its category. Paused, its open proposals close;
    resumed, it is proposed for again (with offers not proposed before); withdrawn, it is gone
    and its matches under way are called off."""
    need_id, kind = str(event.listing_id), NeedKind.DEMAND.value
    if isinstance(event, ListingPublished):
        if event.side is not Side.DEMAND:
            return
        where = event.territory
        tx.execute(
            "INSERT INTO {t:needs} (need_kind, need_id, district, street, community, grid, "
            "categories, quota, exclusive, claimants, state, proposed, opened_at, title) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (need_kind, need_id) DO NOTHING",
            (kind, need_id, where.district, where.street, where.community,
             where.grid, orjson.dumps([event.terms.category.value]).decode(),
             event.terms.capacity or 1, 0, "[]", OPEN, 0, event.occurred_at.isoformat(),
             event.terms.title),
        )  # fmt: skip
        return
    tx.execute("SELECT state FROM {t:needs} WHERE need_kind = ? AND need_id = ?", (kind, need_id))
    if tx.fetchone() is None:  # an offer, not a demand
        return
    at = event.occurred_at.isoformat()
    if isinstance(event, ListingPaused | ListingWithdrawn):
        tx.execute("UPDATE {t:needs} SET state = ? WHERE need_kind = ? AND need_id = ?",
                   (GONE, kind, need_id))  # fmt: skip
        record_change(tx, kind, need_id, ENDED if isinstance(event, ListingWithdrawn) else PAUSED,
                      at)  # fmt: skip
    elif isinstance(event, ListingChanged):
        recast_if_changed(tx, kind, need_id, [event.terms.category.value], at)
        tx.execute("UPDATE {t:needs} SET title = ?, categories = ?, proposed = 0 "
                   "WHERE need_kind = ? AND need_id = ?",
                   (event.terms.title, orjson.dumps([event.terms.category.value]).decode(), kind,
                    need_id))  # fmt: skip
    elif isinstance(event, ListingResumed):
        tx.execute("UPDATE {t:needs} SET state = CASE WHEN agreed >= quota THEN ? ELSE ? END, "
                   "proposed = 0 WHERE need_kind = ? AND need_id = ? AND state = ?",
                   (FILLED, OPEN, kind, need_id, GONE))  # fmt: skip
