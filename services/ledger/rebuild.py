"""Rebuild the ledger from scratch by replaying the stream into an empty store."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError
from pydantic import ValidationError

from services.ledger.books import Books, Family
from services.runtime.settings import BusSettings


async def replay_into(books: Books, bus: BusSettings, *, batch_size: int = 1000) -> tuple[int, int]:
    """Replay every family's subjects into `books`; return (applied, skipped as malformed).

    Uses ephemeral consumers, so the live durable consumers are untouched; commits per batch.
    """
    client = await nats.connect(
        servers=bus.servers, connect_timeout=int(bus.connect_timeout_seconds), **bus.auth_options()
    )
    try:
        js = client.jetstream()
        applied = skipped = 0
        for family in books.families:
            counts = await _replay_family(js, books, family, batch_size)
            applied, skipped = applied + counts[0], skipped + counts[1]
        return applied, skipped
    finally:
        await client.drain()


async def _replay_family(
    js: JetStreamContext, books: Books, family: Family[Any], batch_size: int
) -> tuple[int, int]:
    subscription = await js.pull_subscribe(
        family.spec.filter_subject,
        stream=family.spec.stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=60.0
        ),
    )
    applied = skipped = 0
    while True:
        try:
            messages = await subscription.fetch(batch_size, timeout=1.0)
        except (FetchTimeoutError, TimeoutError):
            if (await subscription.consumer_info()).num_pending == 0:
                break
            continue
        events = []
        for message in messages:
            try:
                events.append(family.adapter.validate_json(message.data))
            except ValidationError:
                skipped += 1
        applied += await asyncio.to_thread(_apply, books, family, events)
    await subscription.unsubscribe()
    return applied, skipped


def _apply(books: Books, family: Family[Any], events: list[Any]) -> int:
    with books.database.transaction() as tx:
        return family.apply_in(tx, events)
