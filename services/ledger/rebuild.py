"""Rebuild the ledger into an empty store and compare it with a consistent snapshot of the live one.

From the sources of record (default): each feed is replayed by its source, over the bus, up to
the mark the live ledger had when the snapshot was read, so a rebuild equals the live ledger
even while both keep working, and even when the stream lost messages or was purged. From the
stream: an ephemeral consumer reads the stream's copy (a check of the stream itself: numbers it
no longer holds are reported as missing).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError
from pydantic import ValidationError

from services.ledger.books import Books, Family
from services.runtime.consumer import connect
from services.runtime.intake import Delivery, Verdict
from services.runtime.replay import ReplayClient
from services.runtime.settings import BusSettings


@dataclass
class Rebuild:
    applied: int = 0
    skipped: int = 0
    """Stream messages that are no event of their family."""
    missing: dict[str, int] = field(default_factory=dict)
    """Per feed, numbers the live ledger settled that the rebuild could not get."""
    live: dict[str, Any] = field(default_factory=dict)
    rebuilt: dict[str, Any] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return self.live == self.rebuilt


async def rebuild_from_sources(rebuilt: Books, live: Books, bus: BusSettings) -> Rebuild:
    """Replay every feed from its source up to the live snapshot's marks, then compare."""
    result = Rebuild(live=await asyncio.to_thread(live.dump))
    replay = ReplayClient(bus, "ledger-rebuild")
    try:
        for family in rebuilt.families:
            marks = result.live["marks"][family.spec.durable]
            for feed in family.spec.feeds:
                await _replay_feed(replay, family, feed, marks.get(feed, 0), result)
    finally:
        await replay.close()
    result.rebuilt = await asyncio.to_thread(rebuilt.dump)
    return result


async def _replay_feed(
    replay: ReplayClient, family: Family[Any], feed: str, until: int, result: Rebuild
) -> None:
    after = 0
    while after < until:
        _, payloads = await replay.page(feed, after, min(500, until - after))
        if not payloads:
            break
        deliveries = [Delivery.replayed(family.adapter.validate_json(p), p) for p in payloads]
        verdicts = await asyncio.to_thread(family.intake.settle, deliveries)
        result.applied += verdicts.count(Verdict.APPLIED)
        after = max(d.event.sequence or 0 for d in deliveries)
    if after < until:
        result.missing[feed] = until - after


async def rebuild_from_stream(
    rebuilt: Books, live: Books, bus: BusSettings, *, batch_size: int = 1000
) -> Rebuild:
    """Replay what the stream still holds (ephemeral consumers; the durable ones untouched)."""
    result = Rebuild(live=await asyncio.to_thread(live.dump))
    client = await connect(bus, "shiliu-ledger-rebuild")
    try:
        js = client.jetstream()
        for family in rebuilt.families:
            await _replay_family(js, family, batch_size, result)
    finally:
        await client.drain()
    marks = await asyncio.to_thread(lambda: rebuilt.dump()["marks"])
    for family in rebuilt.families:
        for feed, mark in result.live["marks"][family.spec.durable].items():
            got = marks[family.spec.durable].get(feed, 0)
            if got < mark:
                result.missing[feed] = mark - got
    result.rebuilt = await asyncio.to_thread(rebuilt.dump)
    return result


async def _replay_family(
    js: JetStreamContext, family: Family[Any], batch_size: int, result: Rebuild
) -> None:
    subscription = await js.pull_subscribe(
        family.spec.filter_subject,
        stream=family.spec.stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=60.0
        ),
    )
    marks = result.live["marks"][family.spec.durable]
    while True:
        try:
            messages = await subscription.fetch(batch_size, timeout=1.0)
        except (FetchTimeoutError, TimeoutError):
            if (await subscription.consumer_info()).num_pending == 0:
                break
            continue
        deliveries = []
        for message in messages:
            try:
                event = family.adapter.validate_json(message.data)
            except ValidationError:
                result.skipped += 1
                continue
            if (event.sequence or 0) > marks.get(event.feed, 0):
                continue  # past the snapshot: the live ledger had not settled it yet
            deliveries.append(Delivery(event, message.data, message.subject))
        verdicts = await asyncio.to_thread(family.intake.settle, deliveries)
        result.applied += verdicts.count(Verdict.APPLIED)
    await subscription.unsubscribe()
