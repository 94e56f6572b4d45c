"""The ledger's bus entry point: a durable pull consumer over every wish event.

Batches arrive in stream order; acknowledgement is explicit: a batch is acked only after its
transaction committed, malformed messages are parked and acked, and a batch that cannot be
applied is nacked whole, with its messages parked once they reach max_deliver.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nats.aio.msg import Msg
from pydantic import TypeAdapter, ValidationError

from events.topology import LEDGER_WISHES, ConsumerSpec
from events.wishes import AnyWishEvent, WishEvent
from services.ledger.projection import WishLedger
from services.runtime.database import Cursor, Database
from services.runtime.parking import ParkingLot
from services.runtime.workers import StoreWorkers

log = logging.getLogger(__name__)
WISH_EVENT: TypeAdapter[WishEvent] = TypeAdapter(AnyWishEvent)


class WishEventConsumer:
    """Applies batches of wish events to the ledger, exactly once in effect."""

    def __init__(
        self,
        database: Database,
        ledger: WishLedger,
        parking: ParkingLot,
        spec: ConsumerSpec = LEDGER_WISHES,
    ) -> None:
        self.database = database
        self.ledger = ledger
        self.parking = parking
        self.spec = spec
        self.applied = 0
        self.workers = StoreWorkers(f"{spec.durable}-store")

    async def on_wish_events(self, batch: Sequence[Msg]) -> None:
        events: list[WishEvent] = []
        malformed: list[tuple[Msg, str]] = []
        for message in batch:
            try:
                events.append(WISH_EVENT.validate_json(message.data))
            except ValidationError as error:
                malformed.append((message, _describe(error)))
        try:
            self.applied += await self.workers.run(self._commit, events, malformed)
        except Exception:
            log.exception("ledger could not apply a batch of %d; will retry", len(batch))
            await self._retry_or_park(batch)
            return
        for message in batch:
            await message.ack()

    def _commit(self, events: list[WishEvent], malformed: list[tuple[Msg, str]]) -> int:
        with self.database.transaction() as tx:
            for message, error in malformed:
                self._park(tx, message, error)
            return self.ledger.apply_in(tx, events)

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


def _describe(error: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['msg']}" for e in error.errors()
    )
    return f"not a known wish event: {problems}"
