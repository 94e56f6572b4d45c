"""The ledger's bus entry points: one durable pull consumer per event family.

Batches arrive in stream order; acknowledgement is explicit: a batch is acked only after its
transaction committed, malformed messages are parked and acked, and a batch that cannot be
applied is nacked whole, with its messages parked once they reach max_deliver.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Generic

from nats.aio.msg import Msg
from pydantic import ValidationError

from services.ledger.books import E, Family
from services.runtime.database import Cursor, Database
from services.runtime.parking import ParkingLot
from services.runtime.workers import StoreWorkers

log = logging.getLogger(__name__)


class FamilyConsumer(Generic[E]):
    """Applies batches of one family's events to its book, exactly once in effect."""

    def __init__(self, database: Database, family: Family[E], parking: ParkingLot) -> None:
        self.database = database
        self.family = family
        self.parking = parking
        self.spec = family.spec
        self.applied = 0
        self.workers = StoreWorkers(f"{family.spec.durable}-store")

    async def on_events(self, batch: Sequence[Msg]) -> None:
        events: list[E] = []
        malformed: list[tuple[Msg, str]] = []
        for message in batch:
            try:
                events.append(self.family.adapter.validate_json(message.data))
            except ValidationError as error:
                malformed.append((message, describe(error, self.family.noun)))
        try:
            self.applied += await self.workers.run(self._commit, events, malformed)
        except Exception:
            log.exception("%s could not apply a batch of %d; will retry", self.spec.durable,
                          len(batch))  # fmt: skip
            await self._retry_or_park(batch)
            return
        for message in batch:
            await message.ack()

    def _commit(self, events: list[E], malformed: list[tuple[Msg, str]]) -> int:
        with self.database.transaction() as tx:
            for message, error in malformed:
                self._park(tx, message, error)
            return self.family.apply_in(tx, events)

    async def _retry_or_park(self, batch: Sequence[Msg]) -> None:
        for message in batch:
            if message.metadata.num_delivered >= self.spec.max_deliver - 1:
                await self.workers.run(self._park_alone, message, "gave up after max_deliver")
                await message.ack()
            else:
                await message.nak(delay=2.0)

    def _park_alone(self, message: Msg, error: str) -> None:
        with self.database.transaction() as tx:
            self._park(tx, message, error)

    def _park(self, tx: Cursor, message: Msg, error: str) -> None:
        self.parking.park_in(
            tx,
            consumer=self.spec.durable,
            subject=message.subject,
            stream_sequence=message.metadata.sequence.stream,
            headers=message.headers or {},
            payload=message.data,
            error=error,
            deliveries=message.metadata.num_delivered,
        )


def describe(error: ValidationError, noun: str) -> str:
    """The parking lot's error: which fields of the message failed, and why."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['msg']}" for e in error.errors()
    )
    return f"not a known {noun}: {problems}"
