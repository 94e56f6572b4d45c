"""The gaps a consumer found in its feeds, on record from the moment they are found.

A gap is recorded by the transaction that holds an event numbered past it, before the source is
asked for anything, so a gap the source cannot fill (it is down, its replay does not answer)
shows at once in `/ops/consumer`, `shiliu status` and readiness. It is closed by the
transaction whose mark reaches its end, whoever filled it: a late redelivery, another instance
on the same durable consumer, or a replay from the source (`events` counts what the source
replayed into it). One feed has at most one open gap per consumer: the events after the mark up
to the first one held.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from events.envelope import INT64_MAX, IntegrationEvent
from services.runtime.database import Cursor, Database

log = logging.getLogger(__name__)
_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:feed_gaps} (id {serial}, consumer TEXT NOT NULL, "
    "feed TEXT NOT NULL, after_sequence BIGINT NOT NULL, until_sequence BIGINT NOT NULL, "
    "detected_at TEXT NOT NULL, repaired_at TEXT, events BIGINT NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS feed_gaps_open ON {t:feed_gaps} (consumer, repaired_at)",
)


@dataclass(frozen=True)
class Gap:
    feed: str
    after: int
    """The mark when it was found: the events after it were missing…"""
    until: int
    """…up to and including this number."""


@dataclass(frozen=True)
class OpenGap:
    """A gap on record and not yet closed."""

    feed: str
    after: int
    until: int
    detected_at: datetime

    def open_seconds(self, now: datetime) -> float:
        return (now - self.detected_at).total_seconds()


class FeedGaps:
    """One consumer's record of gaps: found, closed, and what the sources replayed into them."""

    def __init__(self, database: Database, consumer: str) -> None:
        self.database = database
        self.consumer = consumer

    def create_tables(self) -> None:
        """Its tables, when they are missing (at the owner's start, never at construction)."""
        self.database.execute_script(_DDL)

    def track_in(
        self, tx: Cursor, marks: Mapping[str, int], held: Sequence[IntegrationEvent]
    ) -> None:
        """In a settling transaction: close the open gaps its marks reached, and record the
        gap before the first held event of a feed that has none open."""
        firsts: dict[str, int] = {}
        for event in held:
            firsts[event.feed] = min(event.sequence or 0, firsts.get(event.feed, INT64_MAX))
        still_open = set()
        for gap_id, gap in self._open_in(tx):
            if gap.feed in marks and gap.until <= marks[gap.feed]:
                tx.execute(
                    "UPDATE {t:feed_gaps} SET repaired_at = ? WHERE id = ?", (_now(), gap_id)
                )
            else:
                still_open.add(gap.feed)
        for feed, first in firsts.items():
            if feed not in still_open:
                log.warning("%s holds %s from %d: %d..%d missing", self.consumer, feed, first,
                            marks[feed] + 1, first - 1)  # fmt: skip
                self._record_in(tx, Gap(feed, marks[feed], first - 1))

    def found_in(self, tx: Cursor, gap: Gap) -> int:
        """The id of the feed's open gap, recorded now if it has none: called before asking
        the source, so a gap it cannot fill is on record. The caller holds the feed's mark
        (`Intake.gap_found`), so two instances never record one gap twice."""
        for gap_id, open_gap in self._open_in(tx):
            if open_gap.feed == gap.feed:
                return gap_id
        return self._record_in(tx, gap)

    def repaired(self, gap_id: int, events: int, head: int, mark: int) -> None:
        """Count what the source replayed into the gap; its `head` bounds the gap (past the
        head lies nothing it ever published); closed once `mark` reaches the gap's end."""
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE {t:feed_gaps} SET events = events + ?, until_sequence = CASE WHEN "
                "until_sequence > ? THEN ? ELSE until_sequence END WHERE id = ?",
                (events, head, head, gap_id),
            )
            tx.execute(
                "UPDATE {t:feed_gaps} SET repaired_at = ? WHERE id = ? AND repaired_at IS NULL "
                "AND until_sequence <= ?",
                (_now(), gap_id, mark),
            )

    def bounded(self, feed: str, head: int, mark: int, asked_at: datetime) -> None:
        """The source's head, asked at `asked_at`, is at or below the mark, so nothing of the
        feed is missing: a gap found before then that reaches past the head (before a held
        event numbered past anything the source had: forged, and gone since) is bounded by
        the head and closed, instead of staying open for good. A gap found later is left: the
        source may have numbered more events since."""
        if mark < head:
            return
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE {t:feed_gaps} SET until_sequence = ?, repaired_at = ? WHERE consumer = ? "
                "AND feed = ? AND repaired_at IS NULL AND until_sequence > ? AND detected_at < ?",
                (head, _now(), self.consumer, feed, head, asked_at.isoformat()),
            )

    def open(self) -> list[OpenGap]:
        with self.database.transaction(commit=False) as tx:
            return [gap for _, gap in self._open_in(tx)]

    def counts(self) -> dict[str, int]:
        """How many gaps this consumer found, closed, and has open now."""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT COUNT(*) AS found, COUNT(repaired_at) AS repaired, "
                "COALESCE(SUM(events), 0) AS events FROM {t:feed_gaps} WHERE consumer = ?",
                (self.consumer,),
            )
            row = tx.fetchone()
        found, repaired = (int(row["found"]), int(row["repaired"])) if row else (0, 0)
        events = int(row["events"]) if row else 0
        return {"detected": found, "repaired": repaired, "open": found - repaired,
                "events_repaired": events}  # fmt: skip

    def _record_in(self, tx: Cursor, gap: Gap) -> int:
        tx.execute(
            "INSERT INTO {t:feed_gaps} (consumer, feed, after_sequence, until_sequence, "
            "detected_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            (self.consumer, gap.feed, gap.after, gap.until, _now()),
        )
        row = tx.fetchone()
        return int(row["id"]) if row else 0

    def _open_in(self, tx: Cursor) -> list[tuple[int, OpenGap]]:
        tx.execute(
            "SELECT id, feed, after_sequence, until_sequence, detected_at FROM {t:feed_gaps} "
            "WHERE consumer = ? AND repaired_at IS NULL ORDER BY id",
            (self.consumer,),
        )
        return [
            (int(r["id"]), OpenGap(r["feed"], int(r["after_sequence"]), int(r["until_sequence"]),
                                   datetime.fromisoformat(r["detected_at"])))
            for r in tx.fetchall()
        ]  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat()
