"""A service's bus entry point for one feed family: a durable pull consumer that applies
another service's events exactly once in effect, healing gaps from their source (the ledger's
books, the tickets service's view of the unit registry, matching's view of wishes and tickets).

Each batch is settled by the family's intake in one transaction (see `services.runtime.intake`
for why that is exactly once in effect in any delivery order). Settled messages — applied,
duplicate or parked — are acked; malformed ones are parked and acked at once. A message numbered
past a gap is held: the consumer waits a moment for the gap to close by itself (a redelivery,
another instance's batch), then asks the source for what is missing and applies it in order.
When the stream is quiet, the consumer compares its marks with the sources' heads now and then,
so messages lost at the tail of a feed (or a purged stream) are noticed and repaired too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from nats.aio.msg import Msg
from pydantic import TypeAdapter, ValidationError

from events.envelope import INT64_MAX, IntegrationEvent
from events.subjects import subject_for
from events.topology import ConsumerSpec
from services.runtime.database import Database
from services.runtime.gaps import Gap
from services.runtime.intake import Delivery, Intake, Verdict, unsettled
from services.runtime.replay import ReplayClient, ReplayError
from services.runtime.workers import StoreWorkers

log = logging.getLogger(__name__)
E = TypeVar("E", bound=IntegrationEvent)
IN_PROGRESS_SECONDS = 10.0
"""How often held messages tell the server they are still being worked on (ack_wait is 30 s)."""


class Family(Protocol[E]):
    """One family of events as a consumer reads it: its durable consumer, the intake that
    applies it, and how its messages parse."""

    @property
    def noun(self) -> str:
        """What a message of the family is, for the parking lot's errors ("wish event")."""

    @property
    def spec(self) -> ConsumerSpec: ...
    @property
    def intake(self) -> Intake[E]: ...
    @property
    def adapter(self) -> TypeAdapter[E]: ...


class FamilyConsumer(Generic[E]):
    """Applies one family's events through its intake, exactly once in effect, healing gaps."""

    def __init__(
        self,
        database: Database,
        family: Family[E],
        replay: ReplayClient,
        *,
        gap_grace_seconds: float = 2.0,
        head_check_seconds: float = 10.0,
    ) -> None:
        self.database = database
        self.family = family
        self.intake = family.intake
        self.replay = replay
        self.spec = family.spec
        self.gap_grace_seconds = gap_grace_seconds
        self.head_check_seconds = head_check_seconds
        self.applied = 0
        self.workers = StoreWorkers(f"{family.spec.durable}-store", threads=1)
        self._suspects: dict[str, tuple[int, float]] = {}
        self.ahead: dict[str, tuple[int, int]] = {}
        """Feed → (mark, source's head) while the mark is past everything the source ever
        numbered: what was applied there came from someone else (a forger holding the
        source's bus credentials, taking the next number), or the source lost its outbox."""
        self._last_head_check = 0.0
        self._held: list[tuple[Msg, Delivery[E]]] = []
        self._held_since = 0.0
        self._touched = 0.0

    @property
    def held(self) -> int:
        """Messages waiting (unacked) behind a gap in their feed."""
        return len(self._held)

    async def on_events(self, batch: Sequence[Msg]) -> None:
        pairs: list[tuple[Msg, Delivery[E]]] = []
        malformed: list[tuple[Msg, str]] = []
        for message in batch:
            try:
                event = self.family.adapter.validate_json(message.data)
            except ValidationError as error:
                malformed.append((message, describe(error, self.family.noun)))
                continue
            if event.feed not in self.spec.feeds or subject_for(event) != message.subject:
                why = f"{event.feed} on {message.subject}: not a feed read here, or not its subject"
                malformed.append((message, why))
                continue
            pairs.append((message, _delivery(message, event)))
        if malformed:
            await self.workers.run(self._park_malformed, malformed)
            for message, _ in malformed:
                await message.ack()
        await self._settle([*self._held, *pairs])

    def _park_malformed(self, malformed: Sequence[tuple[Msg, str]]) -> None:
        with self.database.transaction() as tx:
            for message, error in malformed:
                self.intake.parking.park_in(
                    tx, consumer=self.spec.durable, subject=message.subject,
                    headers=unsettled(message.headers or {}), payload=message.data, error=error,
                    stream_sequence=message.metadata.sequence.stream,
                    deliveries=message.metadata.num_delivered,
                )  # fmt: skip

    async def _settle(self, pairs: list[tuple[Msg, Delivery[E]]], *, repair: bool = True) -> None:
        """Settle what can be; keep the rest held (unacked, kept in progress) until the gap
        before them closes, asking the source once it has stayed open for the grace period."""
        try:
            verdicts = await self.workers.run(self.intake.settle, [d for _, d in pairs])
        except Exception:
            log.exception("%s could not settle a batch of %d; it will come again",
                          self.spec.durable, len(pairs))  # fmt: skip
            self._held = []
            for message, _ in pairs:
                await message.nak(delay=2.0)
            return
        # Counted before the acks are awaited, so `status` never shows a mark that moved
        # past events this process applied without counting them.
        self.applied += verdicts.count(Verdict.APPLIED)
        now = asyncio.get_running_loop().time()
        held = []
        for pair, verdict in zip(pairs, verdicts, strict=True):
            if verdict.settled:
                await pair[0].ack()
            else:
                held.append(pair)
        if held and not self._held:
            self._held_since = now
        self._held = held
        if not held:
            return
        if now - self._touched > IN_PROGRESS_SECONDS:
            self._touched = now
            for message, _ in held:
                await message.in_progress()
        if repair and now - self._held_since >= self.gap_grace_seconds:
            await self._repair_held()

    async def _repair_held(self) -> None:
        """Fetch from the source what lies before the held messages, gap by gap; what is still
        held after that is numbered past anything the source has: forged, parked."""
        heads: dict[str, int] = {}
        while self._held:
            marks = await self.workers.run(self.intake.marks)
            try:
                for gap in self._gaps_before_held(marks):
                    heads[gap.feed] = await self.repair(gap)
            except ReplayError as error:
                log.warning("%s cannot repair a gap now: %s", self.spec.durable, error)
                return  # still held; tried again with the next batch or idle moment
            before = len(self._held)
            await self._settle(self._held, repair=False)
            if len(self._held) == before:
                break
        forged = [
            p
            for p in self._held
            if (p[1].event.sequence or 0) > heads.get(p[1].event.feed, INT64_MAX)
        ]
        self._held = [p for p in self._held if p not in forged]
        for message, delivery in forged:
            await self.workers.run(
                self.intake.park, delivery, "numbered past its source's head; not from the source"
            )
            await message.ack()

    def _gaps_before_held(self, marks: dict[str, int]) -> list[Gap]:
        firsts: dict[str, int] = {}
        for _, delivery in self._held:
            feed, sequence = delivery.event.feed, delivery.event.sequence or 0
            firsts[feed] = min(sequence, firsts.get(feed, sequence))
        return [
            Gap(feed, marks.get(feed, 0), first - 1)
            for feed, first in sorted(firsts.items())
            if first > marks.get(feed, 0) + 1
        ]

    async def repair(self, gap: Gap) -> int:
        """Fetch the feed's events after `gap.after` up to `gap.until` from its source and
        settle them in order; return the source's head. The gap is on record before the
        source is asked, so one the source cannot fill stays visible as open."""
        gap_id = await self.workers.run(self.intake.gap_found, gap)
        head, payloads = await self.replay.page(
            gap.feed, gap.after, min(500, gap.until - gap.after)
        )
        if payloads:
            lost = f"{gap.feed} {gap.after + 1}..{min(gap.until, head)}"
            log.warning("%s lost %s on the bus; fetching them from the source",
                        self.spec.durable, lost)  # fmt: skip
        applied = 0
        while payloads:
            deliveries = [self._replayed(payload) for payload in payloads]
            verdicts = await self.workers.run(self.intake.settle, deliveries)
            applied += verdicts.count(Verdict.APPLIED)
            after = max(d.event.sequence or 0 for d in deliveries)
            if after >= min(gap.until, head):
                break
            head, payloads = await self.replay.page(gap.feed, after, min(500, gap.until - after))
        self.applied += applied
        marks = await self.workers.run(self.intake.marks)
        await self.workers.run(
            self.intake.gaps.repaired, gap_id, applied, head, marks.get(gap.feed, 0)
        )
        return head

    def _replayed(self, payload: bytes) -> Delivery[E]:
        try:
            return Delivery.replayed(self.family.adapter.validate_json(payload), payload)
        except ValidationError as error:
            detail = describe(error, self.family.noun)
            msg = f"the source replayed an event this consumer cannot read: {detail}"
            raise ReplayError(msg) from None

    async def on_idle(self) -> None:
        """Quiet stream: now and then, compare each feed's mark with its source's head; a
        head that stays past the mark for the grace period means messages lost at the tail."""
        if self._held:
            await self._settle(self._held)
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._last_head_check < self.head_check_seconds:
            return
        self._last_head_check = now
        marks = await self.workers.run(self.intake.marks)
        for feed in self.spec.feeds:
            asked_at = datetime.now(UTC)
            try:
                head, _ = await self.replay.page(feed, 0, 0)
            except ReplayError as error:
                log.info("%s cannot ask for %s's head: %s", self.spec.durable, feed, error)
                continue
            mark = marks.get(feed, 0)
            if head < mark:
                if self.ahead.get(feed) != (mark, head):
                    log.error("%s applied %s up to %d but its source numbered only %d: the "
                              "events after %d did not come from the source",
                              self.spec.durable, feed, mark, head, head)  # fmt: skip
                self.ahead[feed] = (mark, head)
            else:
                self.ahead.pop(feed, None)
            if head <= mark:
                self._suspects.pop(feed, None)
                await self.workers.run(self.intake.gaps.bounded, feed, head, mark, asked_at)
                continue
            suspect = self._suspects.setdefault(feed, (mark, now))
            if suspect[0] != mark:
                self._suspects[feed] = (mark, now)
            elif now - suspect[1] >= self.gap_grace_seconds:
                self._suspects.pop(feed, None)
                try:
                    await self.repair(Gap(feed, mark, head))
                except ReplayError as error:
                    log.warning("%s cannot repair %s now: %s", self.spec.durable, feed, error)


def _delivery(message: Msg, event: E) -> Delivery[E]:
    return Delivery(
        event, message.data, message.subject, message.headers or {},
        message.metadata.sequence.stream, message.metadata.num_delivered,
    )  # fmt: skip


def describe(error: ValidationError, noun: str) -> str:
    """The parking lot's error: which fields of the message failed, and why."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['msg']}" for e in error.errors()
    )
    return f"not a known {noun}: {problems}"
