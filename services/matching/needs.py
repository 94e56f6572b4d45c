"""The needs matching proposes for, as the tickets service's events told them: open wishes
and tickets triaged into a category a unit can serve (demands on the demand list come from
matching's own log, in `view.py`). Each feed is applied by its own durable consumer, exactly
once in any delivery order (`services.runtime.intake`), into the same two tables:

- `needs`: one row per need, with its place, what can serve it, and whether it still wants
  proposals (`proposed` is 0 until the matchmaker has proposed for it);
- `need_matches`: the ids of the proposals made for each need, a row each, inserted in the
  transaction that saved them (a JSON list in `needs.matches` lost concurrent additions on
  PostgreSQL; older stores' lists are moved here at start);
- `need_changes`: what happened to a need that its proposals must follow (a claim, a
  fulfilment, a rating, the need gone), in order, until the matchmaker has applied it.
"""

from __future__ import annotations

import orjson
from pydantic import TypeAdapter

from events.taxonomy import TICKET_NEEDS, WISH_NEEDS, ServiceCategory
from events.tickets import (
    AnyTicketEvent,
    TicketClosed,
    TicketEvent,
    TicketMerged,
    TicketTriaged,
)
from events.topology import MATCHING_TICKETS, MATCHING_WISHES, ConsumerSpec
from events.wishes import (
    AnyWishEvent,
    ClaimMode,
    WishAcknowledged,
    WishClaimed,
    WishClaimReleased,
    WishEvent,
    WishExpired,
    WishFulfilmentReported,
    WishFulfilmentVerified,
    WishPosted,
    WishRejected,
    WishVerified,
    WishWithdrawn,
)
from services.runtime.database import Cursor, Database
from services.runtime.intake import Intake
from services.runtime.parking import ParkingLot

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:needs} (need_kind TEXT NOT NULL, need_id TEXT NOT NULL, "
    "district TEXT NOT NULL, street TEXT NOT NULL, community TEXT NOT NULL, grid TEXT, "
    "categories TEXT NOT NULL, quota BIGINT NOT NULL, exclusive INTEGER NOT NULL, "
    "claimants TEXT NOT NULL, state TEXT NOT NULL, proposed INTEGER NOT NULL, "
    "opened_at TEXT NOT NULL, matches TEXT NOT NULL DEFAULT '[]', title TEXT, "
    "PRIMARY KEY (need_kind, need_id))",
    "CREATE INDEX IF NOT EXISTS needs_waiting ON {t:needs} (state, proposed)",
    "CREATE TABLE IF NOT EXISTS {t:need_matches} (need_kind TEXT NOT NULL, "
    "need_id TEXT NOT NULL, match_id TEXT NOT NULL, PRIMARY KEY (need_kind, need_id, match_id))",
    "CREATE TABLE IF NOT EXISTS {t:need_changes} (id {serial}, need_kind TEXT NOT NULL, "
    "need_id TEXT NOT NULL, change TEXT NOT NULL, unit_id TEXT, rating INTEGER, "
    "filled INTEGER NOT NULL, occurred_at TEXT NOT NULL, failed TEXT)",
)
WAITING = "waiting"
"""Posted, not yet verified: no proposals yet."""
OPEN = "open"
FILLED = "filled"
GONE = "gone"

CLAIMED = "claimed"
RELEASED = "released"
DELIVERED = "delivered"
CONFIRMED = "confirmed"
RATED = "rated"
ENDED = "ended"
PAUSED = "paused"
"""The changes a need's proposals follow (a paused need closes its open proposals only)."""
SERVED = "served"
"""A demand or ticket has as many agreed matches as it wants: its open proposals close."""
RECAST = "recast"
"""The need was put in other categories: its open proposals (for the old ones) close."""


def create_need_tables(database: Database) -> None:
    database.execute_script(_DDL)
    database.add_column("needs", "title", "TEXT")  # stores made before needs had titles
    database.add_column("needs", "agreed", "INTEGER NOT NULL DEFAULT 0")
    with database.transaction() as tx:  # stores that kept a need's proposals as a JSON list
        tx.execute("SELECT need_kind, need_id, matches FROM {t:needs} WHERE matches <> '[]'")
        for row in tx.fetchall():
            for match_id in orjson.loads(row["matches"]):
                add_match(tx, row["need_kind"], row["need_id"], str(match_id))
        tx.execute("UPDATE {t:needs} SET matches = '[]' WHERE matches <> '[]'")


def recast_if_changed(tx: Cursor, kind: str, need_id: str, categories: list[str], at: str) -> None:
    """A need known before, now in other categories: its open proposals are for what it no
    longer asks, so they close (the matchmaker proposes afresh)."""
    tx.execute("SELECT categories FROM {t:needs} WHERE need_kind = ? AND need_id = ?",
               (kind, need_id))  # fmt: skip
    row = tx.fetchone()
    if row is not None and orjson.loads(row["categories"]) != categories:
        record_change(tx, kind, need_id, RECAST, at)


def take_share(tx: Cursor, kind: str, need_id: str) -> bool:
    """One of a demand's or ticket's shares taken by an agreement, in the transaction that
    saves it; False when all are taken (the row lock makes concurrent agreements take turns,
    and each sees what the one before it took)."""
    tx.execute("UPDATE {t:needs} SET agreed = agreed + 1 WHERE need_kind = ? AND need_id = ? "
               "AND agreed < quota RETURNING agreed", (kind, need_id))  # fmt: skip
    return tx.fetchone() is not None


def give_back_share(tx: Cursor, kind: str, need_id: str) -> None:
    """An agreement called off: its share of the need is free again."""
    tx.execute("UPDATE {t:needs} SET agreed = agreed - 1 WHERE need_kind = ? AND need_id = ? "
               "AND agreed > 0", (kind, need_id))  # fmt: skip


def add_match(tx: Cursor, kind: str, need_id: str, match_id: str) -> None:
    tx.execute(
        "INSERT INTO {t:need_matches} (need_kind, need_id, match_id) VALUES (?, ?, ?) "
        "ON CONFLICT (need_kind, need_id, match_id) DO NOTHING",
        (kind, need_id, match_id),
    )


def matches_of(tx: Cursor, kind: str, need_id: str) -> list[str]:
    """The ids of the proposals made for a need, as recorded when they were saved."""
    tx.execute("SELECT match_id FROM {t:need_matches} WHERE need_kind = ? AND need_id = ? "
               "ORDER BY match_id", (kind, need_id))  # fmt: skip
    return [str(row["match_id"]) for row in tx.fetchall()]


def record_change(
    tx: Cursor, kind: str, need_id: str, change: str, at: str, *,
    unit_id: str | None = None, rating: int | None = None, filled: bool = False,
) -> None:  # fmt: skip
    """Queue what happened to a need for the matchmaker, in the caller's transaction."""
    tx.execute(
        "INSERT INTO {t:need_changes} (need_kind, need_id, change, unit_id, rating, filled, "
        "occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (kind, need_id, change, unit_id, rating, int(filled), at),
    )


def _open_need(
    tx: Cursor, kind: str, need_id: str, event: WishEvent | TicketEvent,
    categories: tuple[ServiceCategory, ...], *, state: str, quota: int = 1,
    exclusive: bool = True, title: str | None = None,
) -> None:  # fmt: skip
    where = event.territory
    recast_if_changed(tx, kind, need_id, [c.value for c in categories],
                      event.occurred_at.isoformat())  # fmt: skip
    tx.execute(
        "INSERT INTO {t:needs} AS n (need_kind, need_id, district, street, community, grid, "
        "categories, quota, exclusive, claimants, state, proposed, opened_at, title) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (need_kind, need_id) DO UPDATE SET categories = excluded.categories, "
        "grid = excluded.grid, proposed = 0, state = CASE WHEN n.agreed >= n.quota "
        "AND n.need_kind <> 'wish' THEN 'filled' ELSE excluded.state END",
        (kind, need_id, where.district, where.street, where.community, where.grid,
         orjson.dumps([c.value for c in categories]).decode(), quota, int(exclusive), "[]",
         state, 0, event.occurred_at.isoformat(), title),
    )  # fmt: skip


class WishNeeds:
    """The wishes' feed: a verified wish is a need; claims, fulfilments and ratings follow."""

    noun = "wish event"
    spec: ConsumerSpec = MATCHING_WISHES
    adapter: TypeAdapter[WishEvent] = TypeAdapter(AnyWishEvent)

    def __init__(self, database: Database, parking: ParkingLot) -> None:
        self.intake: Intake[WishEvent] = Intake(
            database, self.spec.durable, self.spec.feeds, self.apply_event, parking
        )

    @staticmethod
    def apply_event(tx: Cursor, event: WishEvent) -> None:
        need_id, at = str(event.wish_id), event.occurred_at.isoformat()
        if isinstance(event, WishPosted):
            exclusive = event.claim_mode is ClaimMode.EXCLUSIVE
            _open_need(tx, "wish", need_id, event, WISH_NEEDS[event.category], state=WAITING,
                       quota=event.quota, exclusive=exclusive, title=event.title)  # fmt: skip
            return
        tx.execute(
            "SELECT claimants, quota, exclusive, state FROM {t:needs} "
            "WHERE need_kind = 'wish' AND need_id = ?",
            (need_id,),
        )
        row = tx.fetchone()
        if row is None:  # posted before matching listened: nothing to propose for
            return
        claimants: list[str] = orjson.loads(row["claimants"])
        if isinstance(event, WishVerified):
            _set(tx, need_id, state=OPEN, proposed=0)
        elif isinstance(event, WishClaimed):
            claimants = [*claimants, event.unit_id]
            filled = bool(row["exclusive"]) or len(claimants) >= int(row["quota"])
            _set(tx, need_id, claimants=orjson.dumps(claimants).decode(),
                 state=FILLED if filled else OPEN)  # fmt: skip
            record_change(tx, "wish", need_id, CLAIMED, at, unit_id=event.unit_id, filled=filled)
        elif isinstance(event, WishClaimReleased):
            claimants = [c for c in claimants if c != event.unit_id]
            _set(tx, need_id, claimants=orjson.dumps(claimants).decode(), state=OPEN, proposed=0)
            record_change(tx, "wish", need_id, RELEASED, at, unit_id=event.unit_id)
        elif isinstance(event, WishFulfilmentReported):
            record_change(tx, "wish", need_id, DELIVERED, at, unit_id=event.unit_id)
        elif isinstance(event, WishFulfilmentVerified):
            record_change(tx, "wish", need_id, CONFIRMED, at)
        elif isinstance(event, WishAcknowledged) and event.rating is not None:
            record_change(tx, "wish", need_id, RATED, at, rating=event.rating)
        elif isinstance(event, WishRejected | WishWithdrawn | WishExpired):
            _set(tx, need_id, state=GONE)
            record_change(tx, "wish", need_id, ENDED, at)


def _set(tx: Cursor, need_id: str, *, kind: str = "wish", **changes: object) -> None:
    assignments = ", ".join(f"{column} = ?" for column in changes)
    tx.execute(
        f"UPDATE {{t:needs}} SET {assignments} WHERE need_kind = ? AND need_id = ?",
        [*changes.values(), kind, need_id],
    )


class TicketNeeds:
    """The tickets' feed: a ticket triaged into a category a unit can serve is a need."""

    noun = "ticket event"
    spec: ConsumerSpec = MATCHING_TICKETS
    adapter: TypeAdapter[TicketEvent] = TypeAdapter(AnyTicketEvent)

    def __init__(self, database: Database, parking: ParkingLot) -> None:
        self.intake: Intake[TicketEvent] = Intake(
            database, self.spec.durable, self.spec.feeds, self.apply_event, parking
        )

    @staticmethod
    def apply_event(tx: Cursor, event: TicketEvent) -> None:
        need_id, at = str(event.ticket_id), event.occurred_at.isoformat()
        if isinstance(event, TicketTriaged):
            categories = TICKET_NEEDS.get(event.category)
            if categories:
                _open_need(tx, "ticket", need_id, event, categories, state=OPEN)
            else:  # re-triaged into a category no unit serves
                _set(tx, need_id, kind="ticket", state=GONE)
                record_change(tx, "ticket", need_id, ENDED, at)
        elif isinstance(event, TicketClosed | TicketMerged):
            _set(tx, need_id, kind="ticket", state=GONE)
            record_change(tx, "ticket", need_id, ENDED, at)
