"""The wish board view: every community's wishes as a table, following the tickets log.

Lists span aggregates, so they come from this projection, never from loading wishes in a
loop. The view's position is saved in the same transaction as its rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from pydantic import BaseModel

from events.envelope import IntegrationEvent
from events.wishes import (
    WishAcknowledged,
    WishClaimed,
    WishClaimRefused,
    WishClaimReleased,
    WishEvent,
    WishPosted,
)
from services.runtime.database import Cursor, Database
from services.runtime.follower import LocalView
from services.runtime.instants import utc_iso
from services.runtime.workers import StoreWorkers
from services.tickets.sweeps import PAGE_SIZE
from services.tickets.wishes.domain import STATE_AFTER, WishState, after_release
from services.tickets.wishes.publishing import WISHES

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:wish_board} ("
    "wish_id TEXT PRIMARY KEY, district TEXT NOT NULL, street TEXT NOT NULL, "
    "community TEXT NOT NULL, grid TEXT, title TEXT NOT NULL, category TEXT NOT NULL, "
    "claim_mode TEXT NOT NULL, quota INTEGER NOT NULL, state TEXT NOT NULL, "
    "claimants TEXT NOT NULL, refusals INTEGER NOT NULL, rating INTEGER, "
    "posted_at TEXT NOT NULL, updated_at TEXT NOT NULL, expires_at TEXT)",
    "CREATE INDEX IF NOT EXISTS wish_board_by_community "
    "ON {t:wish_board} (district, community, posted_at)",
    "CREATE INDEX IF NOT EXISTS wish_board_by_expiry ON {t:wish_board} (expires_at)",
)
_STATE_AFTER = {WISHES.fields[name][0].__name__: state for name, state in STATE_AFTER.items()}
"""The wish's event → state map (`STATE_AFTER`), by the integration event's type."""
VIEW_NAME = "wish-board-v2"
"""Named with its schema version: a new version starts from position 0 and rebuilds."""
_OPEN_STATES = (WishState.SUBMITTED, WishState.OPEN, WishState.CLAIMED)


class BoardEntry(BaseModel):
    wish_id: str
    district: str
    street: str
    community: str
    grid: str | None
    title: str
    category: str
    claim_mode: str
    quota: int
    state: WishState
    claimants: list[str]
    refusals: int
    rating: int | None
    posted_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None


class WishBoardView(LocalView):
    tables = ("wish_board",)
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
        if not isinstance(event, WishEvent):
            return False
        _apply(tx, event)
        return True

    def entries(
        self,
        *,
        district: str,
        community: str,
        states: Sequence[WishState] = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[BoardEntry]:
        statement = "SELECT * FROM {t:wish_board} WHERE district = ? AND community = ?"
        params: list[Any] = [district, community]
        if states:
            statement += f" AND state IN ({', '.join('?' * len(states))})"
            params += [s.value for s in states]
        statement += " ORDER BY posted_at DESC, wish_id LIMIT ? OFFSET ?"
        with self.database.transaction(commit=False) as tx:
            tx.execute(statement, [*params, limit, offset])
            rows = tx.fetchall()
        return [_entry(row) for row in rows]

    def due_for_expiry(
        self, now: datetime, after: tuple[str, str] | None = None, limit: int = PAGE_SIZE
    ) -> list[DueWish]:
        """Wishes still open whose expiry has passed, by expiry then id, after the key `after`
        (ISO-8601 UTC strings sort by time)."""
        states = ", ".join("?" * len(_OPEN_STATES))
        at, wish = after or ("", "")
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                f"SELECT wish_id, expires_at FROM {{t:wish_board}} WHERE expires_at <= ? "
                f"AND state IN ({states}) AND (expires_at > ? OR (expires_at = ? AND wish_id > ?)) "
                "ORDER BY expires_at, wish_id LIMIT ?",
                [now.astimezone(UTC).isoformat(), *(s.value for s in _OPEN_STATES), at, at, wish,
                 limit],
            )  # fmt: skip
            return [DueWish(UUID(r["wish_id"]), r["expires_at"]) for r in tx.fetchall()]


@dataclass(frozen=True)
class DueWish:
    wish_id: UUID
    expires_at: str

    @property
    def key(self) -> tuple[str, str]:
        """Its place in the expiry order."""
        return (self.expires_at, str(self.wish_id))


def _entry(row: Any) -> BoardEntry:
    data = dict(row)
    data["claimants"] = json.loads(data["claimants"])
    return BoardEntry.model_validate(data)


def _apply(tx: Cursor, event: WishEvent) -> None:
    at = event.occurred_at.isoformat()
    if isinstance(event, WishPosted):
        where = event.territory
        tx.execute(
            "INSERT INTO {t:wish_board} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (wish_id) DO NOTHING",
            (str(event.wish_id), where.district, where.street, where.community, where.grid,
             event.title, event.category.value, event.claim_mode.value, event.quota,
             _STATE_AFTER[event.type].value, "[]", 0, None, at, at,
             utc_iso(event.expires_at) if event.expires_at else None),
        )  # fmt: skip
        return
    tx.execute("SELECT claimants FROM {t:wish_board} WHERE wish_id = ?", (str(event.wish_id),))
    row = tx.fetchone()
    if row is None:
        return
    claimants: list[str] = json.loads(row["claimants"])
    changes: dict[str, Any] = {"updated_at": at}
    if isinstance(event, WishClaimed):
        claimants = [*claimants, event.unit_id]
    elif isinstance(event, WishClaimReleased):
        claimants = [c for c in claimants if c != event.unit_id]
        changes["state"] = after_release(claimants).value
    elif isinstance(event, WishAcknowledged):
        changes["rating"] = event.rating
    if isinstance(event, WishClaimRefused):
        tx.execute(
            "UPDATE {t:wish_board} SET refusals = refusals + 1 WHERE wish_id = ?",
            (str(event.wish_id),),
        )
    if (state := _STATE_AFTER.get(event.type)) is not None:
        changes["state"] = state.value
    changes["claimants"] = json.dumps(claimants)
    assignments = ", ".join(f"{column} = ?" for column in changes)
    tx.execute(
        f"UPDATE {{t:wish_board}} SET {assignments} WHERE wish_id = ?",
        [*changes.values(), str(event.wish_id)],
    )
