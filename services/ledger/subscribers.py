"""The ledger's bus entry point: a durable pull consumer over every wish event.

Batches keep per-subject order (`batch=True`); acknowledgement is manual: a batch is acked
only after its transaction committed, malformed messages are parked and acked, and a batch
that cannot be applied is nacked whole, with its messages parked once they reach max_deliver.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from faststream import AckPolicy, Context
from faststream.nats import JStream, NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg
from pydantic import TypeAdapter, ValidationError

from events.topology import LEDGER_WISHES, ConsumerSpec
from events.wishes import AnyWishEvent, WishEvent
from services.runtime.bus import consumer_config
from services.runtime.database import Database
from services.runtime.parking import ParkingLot
from services.ledger.projection import WishLedger

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

    async def consume(self, batch: Sequence[Msg]) -> None:
        events: list[WishEvent] = []
        malformed: list[tuple[Msg, str]] = []
        for message in batch:
            try:
                events.append(WISH_EVENT.validate_json(message.data))
            except ValidationError as error:
                malformed.append((message, _describe(error)))
        try:
            self.applied += await asyncio.to_thread(self._commit, events, malformed)
        except Exception:
            log.exception("ledger could not apply a batch of %d; will retry", len(batch))
            await self._retry_or_park(batch)
            return
        for message in batch:
            await message.ack()

    def _commit(self, events: list[WishEvent], malformed: list[tuple[Msg, str]]) -> int:
        with self.database.transaction() as tx:
            for message, error in malformed:
                self.parking.park_in(tx, **self._parking_fields(message, error))
            return self.ledger.apply_in(tx, events)

    async def _retry_or_park(self, batch: Sequence[Msg]) -> None:
        for message in batch:
            if message.metadata.num_delivered >= self.spec.max_deliver - 1:
                await asyncio.to_thread(self._park_alone, message, "gave up after max_deliver")
                await message.ack()
            else:
                await message.nak(delay=2.0)

    def _park_alone(self, message: Msg, error: str) -> None:
        with self.database.transaction() as tx:
            self.parking.park_in(tx, **self._parking_fields(message, error))

    def _parking_fields(self, message: Msg, error: str) -> dict[str, object]:
        return {
            "consumer": self.spec.durable,
            "subject": message.subject,
            "stream_sequence": message.metadata.sequence.stream,
            "headers": message.headers or {},
            "payload": message.data,
            "error": error,
            "deliveries": message.metadata.num_delivered,
        }


def _describe(error: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['msg']}" for e in error.errors()
    )
    return f"not a known wish event: {problems}"


def ledger_router(consumer: WishEventConsumer, *, batch_size: int = 100) -> NatsRouter:
    router = NatsRouter()
    spec = consumer.spec

    @router.subscriber(
        spec.filter_subject,
        stream=JStream(spec.stream, declare=False),
        durable=spec.durable,
        config=consumer_config(spec),
        pull_sub=PullSub(batch_size=batch_size, batch=True, timeout=1.0),
        ack_policy=AckPolicy.MANUAL,
        title="ledger-wishes",
        description="Every wish event, into the community wish ledger.",
    )
    async def on_wish_events(message: NatsBatchMessage = Context("message")) -> None:
        await consumer.consume(message.raw_message)

    return router
