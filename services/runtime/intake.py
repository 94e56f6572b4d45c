"""Exactly once in effect, whatever the delivery order: per-feed marks that move one by one.

Each source numbers its integration events gap-free per feed (`IntegrationEvent.sequence`). A
consumer keeps, per feed, the mark: the highest number it has settled, that is applied or
parked. An event numbered mark+1 is applied in its own savepoint, inside the batch's
transaction that also moves the mark; one at or below the mark is a duplicate; one above
mark+1 is held, because something before it has not been settled. The mark never passes an
event that was not settled, and it moves in the transaction that changed the rows, so neither
a nak and redelivery interleaved with later batches, nor several instances sharing a durable
consumer (the mark's row is locked for the transaction), nor a crash can skip or repeat one.

An event whose application raises is retried once in a fresh savepoint, then parked alone,
with the mark moved past it: the rest of its batch still applies. Held events wait for the gap
to close (a late redelivery, another instance), and the consumer asks the source for whatever
is still missing. A gap is recorded in `feed_gaps` by the transaction that finds it (a held
event), before anyone is asked, so a gap the source cannot fill yet is visible at once; it is
closed by the transaction whose mark reaches its end, whoever filled it (a redelivery, another
instance, a replay); see `services.runtime.gaps`.

One aggregate's events (a wish's, a ticket's) are applied in their order, never around a
parked one: once an event is parked, the later events of its aggregate are parked behind it
(`feed_holds`), settled in the feed but not applied. Retrying any of them after a fix applies
the aggregate's parked events in order, from the first, so a late retry never sets a wish back
to a state it has left; other aggregates of the feed go on meanwhile.

Each settled number keeps the id of the event settled under it (`feed_events`). A later copy
of that number with another event id is not a duplicate but a conflict — one of the two was
forged on the bus, or the source was rewritten — and is parked as such, where `parked` and
readiness show it. Which copy was genuine the source tells: `rebuild-ledger --from sources`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

import orjson

from events.envelope import IntegrationEvent
from events.subjects import subject_for
from services.runtime.database import Cursor, Database
from services.runtime.gaps import FeedGaps, Gap
from services.runtime.parking import ParkingLot

log = logging.getLogger(__name__)
E = TypeVar("E", bound=IntegrationEvent)
ATTEMPTS = 2
SETTLED_HEADER = "Shiliu-Settled"
"""Marks a parked message whose number the mark moved past: only such a message may be
applied later by a retry (anything else parked, e.g. forged, never settled its number)."""

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:feed_marks} (consumer TEXT NOT NULL, feed TEXT NOT NULL, "
    "sequence BIGINT NOT NULL, PRIMARY KEY (consumer, feed))",
    "CREATE TABLE IF NOT EXISTS {t:feed_holds} (consumer TEXT NOT NULL, feed TEXT NOT NULL, "
    "aggregate_id TEXT NOT NULL, sequence BIGINT NOT NULL, parked_id BIGINT NOT NULL UNIQUE, "
    "PRIMARY KEY (consumer, feed, sequence))",
    "CREATE TABLE IF NOT EXISTS {t:feed_events} (consumer TEXT NOT NULL, feed TEXT NOT NULL, "
    "sequence BIGINT NOT NULL, event_id TEXT NOT NULL, digest TEXT, "
    "PRIMARY KEY (consumer, feed, sequence))",
)


class Verdict(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    PARKED = "parked"
    HELD = "held"
    """Not settled: an earlier number of its feed is missing."""

    @property
    def settled(self) -> bool:
        return self is not Verdict.HELD


@dataclass(frozen=True)
class Delivery(Generic[E]):
    """One event as it arrived: from the stream (with its message's facts) or from a replay."""

    event: E
    payload: bytes
    subject: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    stream_sequence: int | None = None
    deliveries: int = 1

    @classmethod
    def replayed(cls, event: E, payload: bytes) -> Delivery[E]:
        return cls(event, payload, subject_for(event), {"Shiliu-Replayed": "true"})


class Intake(Generic[E]):
    """One consumer's marks over its feeds, applying each event through `apply`."""

    def __init__(
        self,
        database: Database,
        consumer: str,
        feeds: Sequence[str],
        apply: Callable[[Cursor, E], None],
        parking: ParkingLot,
    ) -> None:
        self.database = database
        self.consumer = consumer
        self.feeds = tuple(feeds)
        self.apply = apply
        self.parking = parking
        self.gaps = FeedGaps(database, consumer)

    def create_tables(self) -> None:
        """Its tables, when they are missing (at the owner's start, never at construction)."""
        self.database.execute_script(_DDL)
        self.database.add_column("feed_events", "digest", "TEXT")  # earlier releases lack it
        self.gaps.create_tables()

    def settle(self, deliveries: Sequence[Delivery[E]]) -> list[Verdict]:
        """Settle what can be settled now, in one transaction; a verdict per delivery."""
        with self.database.transaction() as tx:
            return self.settle_in(tx, deliveries)

    def settle_in(self, tx: Cursor, deliveries: Sequence[Delivery[E]]) -> list[Verdict]:
        verdicts = [Verdict.HELD] * len(deliveries)
        marks: dict[str, int] = {}
        holding: dict[str, set[str]] = {}
        order = sorted(range(len(deliveries)), key=lambda i: _place(deliveries[i].event))
        for i in order:
            delivery = deliveries[i]
            event = delivery.event
            if event.sequence is None:
                self._park(tx, delivery, "no feed sequence: not stamped by a source's relay")
                verdicts[i] = Verdict.PARKED
                continue
            feed = event.feed
            if feed not in marks:
                marks[feed] = self._lock(tx, feed)
                holding[feed] = self._holding(tx, feed)
            if event.sequence <= marks[feed]:
                verdicts[i] = self._settle_again(tx, delivery)
            elif event.sequence == marks[feed] + 1:
                verdicts[i] = self._settle_next(tx, delivery, holding[feed])
                self._record(tx, event)
                marks[feed] = event.sequence
        for feed, mark in marks.items():
            tx.execute(
                "UPDATE {t:feed_marks} SET sequence = ? WHERE consumer = ? AND feed = ?",
                (mark, self.consumer, feed),
            )
        held = [d.event for d, v in zip(deliveries, verdicts, strict=True) if not v.settled]
        self.gaps.track_in(tx, marks, held)
        return verdicts

    def lock_in(self, tx: Cursor) -> None:
        """Lock every feed's mark, in the order settling takes them, before anything else is
        read: a retry of a parked message then waits for a settling batch (or another retry)
        instead of reading rows it is about to change (on SQLite, a transaction that reads
        before it writes cannot wait for the write lock: it fails with "database is
        locked"). Everything that locks marks and parked rows takes marks first, so two
        retries of one aggregate's parked events never wait for each other in a circle."""
        for feed in sorted(self.feeds):
            self._lock(tx, feed)

    def gap_found(self, gap: Gap) -> int:
        """The id of the feed's open gap, on record (see `FeedGaps.found_in`) before the
        source is asked to fill it; taken under the feed's mark, like settling."""
        with self.database.transaction() as tx:
            self._lock(tx, gap.feed)
            return self.gaps.found_in(tx, gap)

    def _lock(self, tx: Cursor, feed: str) -> int:
        """The feed's mark, its row locked until this transaction ends (writes come first, so
        SQLite takes its write lock before reading and PostgreSQL locks the row)."""
        tx.execute(
            "INSERT INTO {t:feed_marks} (consumer, feed, sequence) VALUES (?, ?, 0) "
            "ON CONFLICT (consumer, feed) DO NOTHING",
            (self.consumer, feed),
        )
        tx.execute(
            "UPDATE {t:feed_marks} SET sequence = sequence WHERE consumer = ? AND feed = ?",
            (self.consumer, feed),
        )
        tx.execute(
            "SELECT sequence FROM {t:feed_marks} WHERE consumer = ? AND feed = ?",
            (self.consumer, feed),
        )
        row = tx.fetchone()
        return int(row["sequence"]) if row else 0

    def _record(self, tx: Cursor, event: E) -> None:
        tx.execute(
            "INSERT INTO {t:feed_events} (consumer, feed, sequence, event_id, digest) "
            "VALUES (?, ?, ?, ?, ?)",
            (self.consumer, event.feed, event.sequence, str(event.event_id), digest(event)),
        )

    def _settle_again(self, tx: Cursor, delivery: Delivery[E]) -> Verdict:
        """A number already settled: a duplicate of the same event, else a conflict."""
        event = delivery.event
        tx.execute(
            "SELECT event_id, digest FROM {t:feed_events} "
            "WHERE consumer = ? AND feed = ? AND sequence = ?",
            (self.consumer, event.feed, event.sequence),
        )
        row = tx.fetchone()
        if row is None or (
            row["event_id"] == str(event.event_id) and row["digest"] in (None, digest(event))
        ):
            return Verdict.DUPLICATE
        settled = f"event {row['event_id']}"
        if row["event_id"] == str(event.event_id):
            settled = f"the content of {settled} (same id, other fields)"
        why = (
            f"conflicts with {settled}, settled as number {event.sequence} of "
            f"{event.feed}: one of the two is forged, or the source was rewritten"
        )
        log.error("%s parks %s: %s", self.consumer, event.event_id, why)
        self._park(tx, delivery, why)
        return Verdict.PARKED

    def _holding(self, tx: Cursor, feed: str) -> set[str]:
        """The feed's aggregates with a parked event, whose later events wait behind it."""
        tx.execute(
            "SELECT DISTINCT aggregate_id FROM {t:feed_holds} WHERE consumer = ? AND feed = ?",
            (self.consumer, feed),
        )
        return {str(row["aggregate_id"]) for row in tx.fetchall()}

    def _settle_next(self, tx: Cursor, delivery: Delivery[E], holding: set[str]) -> Verdict:
        """Apply the feed's next event, or park it behind its aggregate's parked one."""
        aggregate = delivery.event.aggregate_id
        if aggregate is not None and str(aggregate) in holding:
            why = f"waits behind an earlier parked event of {aggregate}: retry that one first"
            self._hold(tx, delivery.event, self._park(tx, delivery, why, settled=True))
            return Verdict.PARKED
        verdict, parked_id = self._apply_alone(tx, delivery)
        if parked_id is not None and aggregate is not None:
            self._hold(tx, delivery.event, parked_id)
            holding.add(str(aggregate))
        return verdict

    def _hold(self, tx: Cursor, event: E, parked_id: int) -> None:
        tx.execute(
            "INSERT INTO {t:feed_holds} (consumer, feed, aggregate_id, sequence, parked_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (self.consumer, event.feed, str(event.aggregate_id), event.sequence, parked_id),
        )

    def held_with_in(self, tx: Cursor, parked_id: int) -> list[int]:
        """The parked ids to retry, in order, for a retry of `parked_id`: its aggregate's
        parked events from the first (just itself when it holds nothing back)."""
        tx.execute(
            "SELECT h.parked_id FROM {t:feed_holds} h JOIN {t:feed_holds} k "
            "ON h.consumer = k.consumer AND h.feed = k.feed AND h.aggregate_id = k.aggregate_id "
            "WHERE k.parked_id = ? ORDER BY h.sequence",
            (parked_id,),
        )
        return [int(row["parked_id"]) for row in tx.fetchall()] or [parked_id]

    def _apply_alone(self, tx: Cursor, delivery: Delivery[E]) -> tuple[Verdict, int | None]:
        """Apply one event in a savepoint (twice at most); parked, also the parked id."""
        error: Exception | None = None
        for _ in range(ATTEMPTS):
            tx.execute("SAVEPOINT apply_one")
            try:
                self.apply(tx, delivery.event)
            except Exception as failure:
                tx.execute("ROLLBACK TO SAVEPOINT apply_one")
                tx.execute("RELEASE SAVEPOINT apply_one")
                error = failure
                continue
            tx.execute("RELEASE SAVEPOINT apply_one")
            return Verdict.APPLIED, None
        log.error("%s parks %s: %r", self.consumer, delivery.event.event_id, error)
        why = f"could not be applied: {error!r}"
        return Verdict.PARKED, self._park(tx, delivery, why, settled=True)

    def retry_parked_in(self, tx: Cursor, parked_id: int, event: E) -> str | None:
        """Apply a parked event after a fix: None when applied (and no longer parked), else
        why not. Only an event its feed has settled (the mark passed it when it was parked)
        may be applied out of order like this; anything else still comes in order."""
        if event.sequence is None or event.sequence > self._lock(tx, event.feed):
            return "not settled in its feed's order yet: it comes from the stream or the source"
        tx.execute("SAVEPOINT retry_one")
        try:
            self.apply(tx, event)
        except Exception as failure:
            tx.execute("ROLLBACK TO SAVEPOINT retry_one")
            tx.execute("RELEASE SAVEPOINT retry_one")
            return f"could not be applied: {failure!r}"
        tx.execute("RELEASE SAVEPOINT retry_one")
        self.parking.release_in(tx, parked_id)
        tx.execute("DELETE FROM {t:feed_holds} WHERE parked_id = ?", (parked_id,))
        return None

    def _park(self, tx: Cursor, delivery: Delivery[E], error: str, *, settled: bool = False) -> int:
        """Park a delivery; `settled` when the mark moves past it, so a retry may apply it.
        Only this consumer says so: a settled mark arriving on the bus is dropped."""
        headers = unsettled(delivery.headers)
        if settled:
            headers[SETTLED_HEADER] = "parked"
        return self.parking.park_in(
            tx, consumer=self.consumer, subject=delivery.subject, headers=headers,
            stream_sequence=delivery.stream_sequence, payload=delivery.payload, error=error,
            deliveries=delivery.deliveries,
        )  # fmt: skip

    def park(self, delivery: Delivery[E], error: str) -> None:
        """Park one delivery that can never be settled (e.g. numbered past the source's head)."""
        with self.database.transaction() as tx:
            self._park(tx, delivery, error)

    def marks(self) -> dict[str, int]:
        with self.database.transaction(commit=False) as tx:
            return self.marks_in(tx)

    def marks_in(self, tx: Cursor) -> dict[str, int]:
        tx.execute(
            "SELECT feed, sequence FROM {t:feed_marks} WHERE consumer = ? ORDER BY feed",
            (self.consumer,),
        )
        return {row["feed"]: int(row["sequence"]) for row in tx.fetchall()}


def unsettled(headers: Mapping[str, str]) -> dict[str, str]:
    """A message's headers without any settled mark it came with (a forger's, say)."""
    return {k: v for k, v in headers.items() if k.lower() != SETTLED_HEADER.lower()}


def digest(event: IntegrationEvent) -> str:
    """What a copy of a settled event must match to be a duplicate: its canonical content."""
    canonical = orjson.dumps(event.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _place(event: IntegrationEvent) -> tuple[str, int]:
    return (event.feed, event.sequence or 0)
