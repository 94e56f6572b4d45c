"""The outbox: every integration event a service tells, numbered per feed and kept for replay.

The relay stamps the notification log into this table — each event gets the next number of
its feed (`<source>.<family>`), gap-free from 1 — in one transaction with the stamped position,
and only then publishes. So the numbers are fixed before anything leaves, a republished event
carries the same number, and the source can answer "what came after n?" for any consumer that
lost messages on the bus (the stream is a transport and a replay cache, not the record).

A notification the relay cannot translate, or an event it cannot publish, is parked here, where
`status`, `parked` and readiness show it, and `retry` puts it through again after a fix.

An aggregate's events are numbered in the order it recorded them, never around a parked one:
once a notification of an aggregate cannot be translated, its later notifications are parked
behind it (`outbox_holds`, stage `held`) instead of being numbered. A retry after the fix
numbers them all, in order, at the head of their feeds, so a consumer never sees a wish's
claim after its fulfilment; other aggregates are numbered meanwhile as usual.

Longer than ~300 lines because stamping, parking, holding and restamping share one table set
and one transaction discipline (each step claims the stamped position first); apart, each
half would need the other's private queries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from eventsourcing.persistence import Notification
from pydantic import BaseModel

from events.envelope import IntegrationEvent
from events.subjects import subject_for
from services.runtime.database import Cursor, Database, Row
from services.runtime.positions import PositionStore

Translate = Callable[[Notification], IntegrationEvent | None]
STAMPED = "outbox"
"""The position up to which the notification log has been stamped into the outbox."""
PUBLISHED = "relay"
"""The position up to which every stamped event has been published (or parked)."""

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:outbox_events} ("
    "feed TEXT NOT NULL, sequence BIGINT NOT NULL, position BIGINT NOT NULL, "
    "event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, subject TEXT NOT NULL, "
    "payload {blob} NOT NULL, PRIMARY KEY (feed, sequence))",
    "CREATE INDEX IF NOT EXISTS outbox_events_by_position ON {t:outbox_events} (position)",
    "CREATE TABLE IF NOT EXISTS {t:outbox_parked} ("
    "id {serial}, position BIGINT NOT NULL, stage TEXT NOT NULL, topic TEXT NOT NULL, "
    "feed TEXT, sequence BIGINT, error TEXT NOT NULL, parked_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t:outbox_holds} (parked_id BIGINT PRIMARY KEY, "
    "originator_id TEXT NOT NULL, position BIGINT NOT NULL)",
)
HELD = "held"
"""The stage of a notification parked behind an earlier parked one of its aggregate."""


@dataclass(frozen=True)
class OutboxEvent:
    """One stamped event, as it is published and as it is replayed."""

    feed: str
    sequence: int
    position: int
    event_id: str
    type: str
    subject: str
    payload: bytes

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Nats-Msg-Id": self.event_id,
            "Shiliu-Type": self.type,
            "Shiliu-Feed": self.feed,
            "Shiliu-Sequence": str(self.sequence),
            "Shiliu-Position": str(self.position),
            "content-type": "application/json",
        }


class ParkedNotification(BaseModel):
    id: int
    position: int
    stage: str
    """`translate` (no integration event could be made), `held` (behind an earlier parked
    notification of its aggregate) or `publish` (stamped, but the bus refused it)."""
    topic: str
    feed: str | None
    sequence: int | None
    error: str
    parked_at: datetime


def encode(event: IntegrationEvent) -> bytes:
    return orjson.dumps(event.model_dump(mode="json"))


class Outbox:
    """The outbox tables in a writing service's own store."""

    def __init__(self, database: Database, translate: Translate) -> None:
        self.database = database
        self.translate = translate
        self.positions = PositionStore(database)

    def create_tables(self) -> None:
        """Its tables, when they are missing (at the owner's start, never at construction)."""
        self.positions.create_tables()
        self.database.execute_script(_DDL)

    def stamped(self) -> int:
        return self.positions.load(STAMPED)

    def published(self) -> int:
        return self.positions.load(PUBLISHED)

    def stamp(self, batch: Sequence[Notification]) -> int:
        """Number what `batch` tells, after the stamped position; return how many events."""
        with self.database.transaction() as tx:
            start = _claim(tx, STAMPED)
            holding = _holding(tx)
            heads: dict[str, int] = {}
            stamped = 0
            for notification in batch:
                if notification.id <= start:
                    continue  # another instance stamped it first
                if (event := self._translate(tx, notification, holding)) is not None:
                    self._insert(tx, event, heads, notification.id)
                    stamped += 1
            PositionStore.save_in(tx, STAMPED, max(start, batch[-1].id))
        return stamped

    def _translate(
        self, tx: Cursor, notification: Notification, holding: set[str]
    ) -> IntegrationEvent | None:
        """The notification's integration event, or None: it tells nothing, or it is parked
        (failing, or behind its aggregate's parked notification)."""
        aggregate = str(notification.originator_id)
        if aggregate in holding:
            why = "waits behind an earlier parked notification of its aggregate"
            _hold(tx, _park(tx, notification.id, HELD, notification.topic, why), notification)
            return None
        try:
            return self.translate(notification)
        except Exception as error:
            parked = _park(tx, notification.id, "translate", notification.topic, repr(error))
            _hold(tx, parked, notification)
            holding.add(aggregate)
            return None

    @staticmethod
    def _insert(
        tx: Cursor, event: IntegrationEvent, heads: dict[str, int], position: int
    ) -> OutboxEvent:
        feed = event.feed
        if feed not in heads:
            tx.execute(
                "SELECT COALESCE(MAX(sequence), 0) AS head FROM {t:outbox_events} WHERE feed = ?",
                (feed,),
            )
            row = tx.fetchone()
            heads[feed] = int(row["head"]) if row else 0
        heads[feed] += 1
        stamped = event.model_copy(update={"sequence": heads[feed]})
        row_ = OutboxEvent(feed, heads[feed], position, str(event.event_id), event.type,
                           subject_for(event), encode(stamped))  # fmt: skip
        tx.execute(
            "INSERT INTO {t:outbox_events} (feed, sequence, position, event_id, type, subject, "
            "payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row_.feed, row_.sequence, row_.position, row_.event_id, row_.type, row_.subject,
             row_.payload),
        )  # fmt: skip
        return row_

    def unpublished(self, limit: int) -> list[OutboxEvent]:
        """Stamped events after the published position, in log order."""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT * FROM {t:outbox_events} WHERE position > ? "
                "ORDER BY position, feed, sequence LIMIT ?",
                (PositionStore.load_in(tx, PUBLISHED), limit),
            )
            return [_row(row) for row in tx.fetchall()]

    def mark_published(self, position: int) -> None:
        """Move the published position forward, never back: claimed, so a twin's relay
        (another instance on the store) waits instead of failing ("database is locked" on
        SQLite) or setting it back (PostgreSQL)."""
        with self.database.transaction() as tx:
            if position > _claim(tx, PUBLISHED):
                PositionStore.save_in(tx, PUBLISHED, position)

    def catch_up_published(self) -> None:
        """With nothing stamped left unpublished, the published position is the stamped one
        (the log's tail may hold notifications that tell nothing, such as receipts)."""
        with self.database.transaction() as tx:
            stamped = _claim(tx, STAMPED)
            published = PositionStore.load_in(tx, PUBLISHED)
            tx.execute(
                "SELECT COUNT(*) AS n FROM {t:outbox_events} WHERE position > ?", (published,)
            )
            row = tx.fetchone()
            if stamped > published and row is not None and int(row["n"]) == 0:
                PositionStore.save_in(tx, PUBLISHED, stamped)

    def park_unpublishable(self, event: OutboxEvent, error: str) -> None:
        """The bus refuses this event for good; consumers still get it by replay."""
        with self.database.transaction() as tx:
            _park(tx, event.position, "publish", event.type, error, event)

    def page(self, feed: str, after: int, limit: int) -> tuple[int, list[bytes]]:
        """The feed's head — the last number stamped, published yet or not — and its events
        after `after` (at most `limit`). A stamped event is committed for good, so a consumer
        may have it before the relay flushes it; with the published head instead, a genuine
        event that overtook a slow flush would look numbered past the source (forged)."""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT COALESCE(MAX(sequence), 0) AS head FROM {t:outbox_events} WHERE feed = ?",
                (feed,),
            )
            row = tx.fetchone()
            head = int(row["head"]) if row else 0
            tx.execute(
                "SELECT payload FROM {t:outbox_events} WHERE feed = ? AND sequence > ? "
                "AND sequence <= ? ORDER BY sequence LIMIT ?",
                (feed, after, head, limit),
            )
            return head, [bytes(r["payload"]) for r in tx.fetchall()]

    def heads(self) -> dict[str, int]:
        """Every feed's stamped head."""
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT feed, MAX(sequence) AS head FROM {t:outbox_events} GROUP BY feed")
            return {row["feed"]: int(row["head"]) for row in tx.fetchall()}

    def parked(self, limit: int = 100) -> list[ParkedNotification]:
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT * FROM {t:outbox_parked} ORDER BY id DESC LIMIT ?", (limit,))
            rows = tx.fetchall()
        return [
            ParkedNotification.model_validate(
                {**row, "parked_at": datetime.fromisoformat(row["parked_at"])}
            )
            for row in rows
        ]

    def parked_count(self) -> int:
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT COUNT(*) AS n FROM {t:outbox_parked}")
            row = tx.fetchone()
        return int(row["n"]) if row else 0

    def find_parked(self, parked_id: int) -> ParkedNotification | None:
        with self.database.transaction(commit=False) as tx:
            return _find(tx, parked_id)

    def held_positions(self, parked_id: int) -> list[int]:
        """The log positions a retry of `parked_id` puts through, in order: its aggregate's
        held notifications from the first (none when it holds nothing back)."""
        with self.database.transaction(commit=False) as tx:
            return [position for _, position in _chain(tx, parked_id)]

    def restamp(self, parked_id: int, notifications: Mapping[int, Notification]) -> list[int]:
        """Translate the held notifications of `parked_id`'s aggregate again, in order, each
        success numbered at its feed's head; stop at the first that fails again (it and the
        rest stay held). Return the parked ids now stamped and waiting to be published."""
        stamped: list[int] = []
        with self.database.transaction() as tx:
            _claim(tx, STAMPED)  # one stamper at a time: the relay's loop, or this retry
            heads: dict[str, int] = {}
            for held_id, position in _chain(tx, parked_id):
                if (notification := notifications.get(position)) is None:
                    break  # held after the caller looked: the next retry takes it
                try:
                    event = self.translate(notification)
                except Exception as error:
                    _note(tx, held_id, "translate", repr(error))
                    break
                tx.execute("DELETE FROM {t:outbox_holds} WHERE parked_id = ?", (held_id,))
                if event is None:
                    tx.execute("DELETE FROM {t:outbox_parked} WHERE id = ?", (held_id,))
                    continue
                row = self._insert(tx, event, heads, position)
                tx.execute(
                    "UPDATE {t:outbox_parked} SET stage = 'publish', feed = ?, sequence = ?, "
                    "error = ? WHERE id = ?",
                    (row.feed, row.sequence, "stamped on retry; not published yet", held_id),
                )
                stamped.append(held_id)
        return stamped

    def unsent_before(self, parked_id: int) -> list[int]:
        """The stamped-but-parked entries of `parked_id`'s feed up to it, in feed order: a
        retry sends them all, so a feed's events go out in their order."""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT p.id FROM {t:outbox_parked} p JOIN {t:outbox_parked} k "
                "ON p.feed = k.feed AND p.sequence <= k.sequence WHERE k.id = ? "
                "ORDER BY p.sequence",
                (parked_id,),
            )
            return [int(row["id"]) for row in tx.fetchall()]

    def parked_event(self, parked_id: int) -> OutboxEvent | None:
        """The stamped event of a parked entry at the `publish` stage."""
        with self.database.transaction(commit=False) as tx:
            entry = _find(tx, parked_id)
            if entry is None or entry.feed is None:
                return None
            tx.execute(
                "SELECT * FROM {t:outbox_events} WHERE feed = ? AND sequence = ?",
                (entry.feed, entry.sequence),
            )
            row = tx.fetchone()
            return _row(row) if row else None

    def release_parked(self, parked_id: int) -> None:
        """The parked entry went out after all."""
        with self.database.transaction() as tx:
            tx.execute("DELETE FROM {t:outbox_parked} WHERE id = ?", (parked_id,))

    def note_parked(self, parked_id: int, error: str) -> None:
        """Why a retry failed; the entry stays parked."""
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE {t:outbox_parked} SET error = ? WHERE id = ?", (error[:2000], parked_id)
            )


def _claim(tx: Cursor, name: str) -> int:
    """Read a position with its row locked for this transaction (one stamper at a time)."""
    return PositionStore.claim_in(tx, name)


def _park(
    tx: Cursor, position: int, stage: str, topic: str, error: str, event: OutboxEvent | None = None
) -> int:
    tx.execute(
        "INSERT INTO {t:outbox_parked} (position, stage, topic, feed, sequence, error, "
        "parked_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (position, stage, topic, event.feed if event else None, event.sequence if event else None,
         error[:2000], datetime.now(UTC).isoformat()),
    )  # fmt: skip
    row = tx.fetchone()
    return int(row["id"]) if row else 0


def _hold(tx: Cursor, parked_id: int, notification: Notification) -> None:
    tx.execute(
        "INSERT INTO {t:outbox_holds} (parked_id, originator_id, position) VALUES (?, ?, ?)",
        (parked_id, str(notification.originator_id), notification.id),
    )


def _holding(tx: Cursor) -> set[str]:
    """The aggregates whose later notifications wait behind a parked one."""
    tx.execute("SELECT DISTINCT originator_id FROM {t:outbox_holds}")
    return {str(row["originator_id"]) for row in tx.fetchall()}


def _chain(tx: Cursor, parked_id: int) -> list[tuple[int, int]]:
    """(parked id, position) of the held notifications of `parked_id`'s aggregate, in order."""
    tx.execute(
        "SELECT h.parked_id, h.position FROM {t:outbox_holds} h JOIN {t:outbox_holds} k "
        "ON h.originator_id = k.originator_id WHERE k.parked_id = ? ORDER BY h.position",
        (parked_id,),
    )
    chain = [(int(row["parked_id"]), int(row["position"])) for row in tx.fetchall()]
    if not chain and (entry := _find(tx, parked_id)) is not None and entry.feed is None:
        chain = [(entry.id, entry.position)]  # parked before holds were kept
    return chain


def _note(tx: Cursor, parked_id: int, stage: str, error: str) -> None:
    tx.execute(
        "UPDATE {t:outbox_parked} SET stage = ?, error = ? WHERE id = ?",
        (stage, error[:2000], parked_id),
    )


def _find(tx: Cursor, parked_id: int) -> ParkedNotification | None:
    tx.execute("SELECT * FROM {t:outbox_parked} WHERE id = ?", (parked_id,))
    row = tx.fetchone()
    if row is None:
        return None
    return ParkedNotification.model_validate(
        {**row, "parked_at": datetime.fromisoformat(row["parked_at"])}
    )


def _row(r: Row) -> OutboxEvent:
    return OutboxEvent(
        feed=r["feed"], sequence=int(r["sequence"]), position=int(r["position"]),
        event_id=r["event_id"], type=r["type"], subject=r["subject"], payload=bytes(r["payload"]),
    )  # fmt: skip
