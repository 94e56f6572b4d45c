"""Rebuild the ledger from scratch by replaying the stream into an empty store."""

from __future__ import annotations

import asyncio

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError
from pydantic import ValidationError

from events.topology import LEDGER_WISHES, ConsumerSpec
from events.wishes import WishEvent
from services.ledger.projection import WishLedger
from services.ledger.subscribers import WISH_EVENT
from services.runtime.settings import BusSettings


async def replay_into(
    ledger: WishLedger,
    bus: BusSettings,
    *,
    spec: ConsumerSpec = LEDGER_WISHES,
    batch_size: int = 1000,
) -> tuple[int, int]:
    """Replay every message of the ledger's subjects; return (applied, skipped as malformed).

    Uses an ephemeral consumer, so the live durable consumer is untouched; commits per batch.
    """
    client = await nats.connect(
        servers=bus.servers, connect_timeout=int(bus.connect_timeout_seconds), **bus.auth_options()
    )
    try:
        js = client.jetstream()
        subscription = await js.pull_subscribe(
            spec.filter_subject,
            stream=spec.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
                inactive_threshold=60.0,
            ),
        )
        applied = skipped = 0
        while True:
            try:
                messages = await subscription.fetch(batch_size, timeout=1.0)
            except (FetchTimeoutError, TimeoutError):
                info = await subscription.consumer_info()
                if info.num_pending == 0:
                    break
                continue
            events: list[WishEvent] = []
            for message in messages:
                try:
                    events.append(WISH_EVENT.validate_json(message.data))
                except ValidationError:
                    skipped += 1
            applied += await asyncio.to_thread(ledger.apply, events)
        await subscription.unsubscribe()
        return applied, skipped
    finally:
        await client.drain()
