"""Constructed events for the ledger tests, numbered as the tickets service's log would."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import nats
from fastapi.testclient import TestClient

from events.envelope import Actor, IntegrationEvent, Role, Territory
from events.subjects import subject_for
from events.topology import TICKETS_STREAM, ConsumerSpec
from services.ledger.books import Books
from services.runtime.database import Database, open_datastore
from services.runtime.settings import BusSettings
from tests.conftest import eventually, memory_store

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
E = TypeVar("E", bound=IntegrationEvent)


class Log:
    """Hands out envelopes with rising positions, as one source's notification log would, and
    rising feed sequences, as its relay stamps them (one Log per feed)."""

    def __init__(self, start: int = 1) -> None:
        self.position = start - 1
        self.sequence = 0

    def at(self, hours: float = 0.0, community: str = "c01", street: str = "s01") -> dict[str, Any]:
        """The envelope fields of the next event, `hours` after T0, in a community of jinfeng."""
        self.position += 1
        self.sequence += 1
        when = T0 + timedelta(hours=hours)
        return {
            "event_id": uuid.uuid4(),
            "occurred_at": when,
            "recorded_at": when,
            "territory": Territory(district="jinfeng", street=street, community=community),
            "actor": Actor(id="staff-1", role=Role.COMMUNITY_STAFF),
            "source": "tickets",
            "position": self.position,
            "sequence": self.sequence,
        }


def numbered(events: Sequence[E], start: int = 1) -> list[E]:
    """The events renumbered gap-free in list order, as a relay stamps what it publishes."""
    return [e.model_copy(update={"sequence": start + i}) for i, e in enumerate(events)]


def books_in_memory() -> Books:
    """Fresh books on the library's in-memory SQLite (their figures, not their durability, are
    under test)."""
    books = Books(Database(open_datastore(memory_store())))
    books.create_tables()
    return books


async def _publish(bus: BusSettings, messages: Sequence[tuple[str, bytes]]) -> None:
    client = await nats.connect(bus.url)
    js = client.jetstream()
    for subject, payload in messages:
        await js.publish(subject, payload, stream=TICKETS_STREAM.name, timeout=5.0)
    await client.close()


def publish(bus: BusSettings, items: Sequence[IntegrationEvent | tuple[str, bytes]]) -> None:
    """Publish events on their own subjects (and raw messages as given) to the tickets stream."""
    messages = [
        item if isinstance(item, tuple) else (subject_for(item), item.model_dump_json().encode())
        for item in items
    ]
    asyncio.run(_publish(bus, messages))


async def _unfinished(bus: BusSettings, spec: ConsumerSpec) -> int:
    client = await nats.connect(bus.url)
    try:
        info = await client.jetstream().consumer_info(spec.stream, spec.durable)
        return int(info.num_pending + info.num_ack_pending)
    finally:
        await client.close()


def settled(tickets: TestClient, bus: BusSettings, *specs: ConsumerSpec) -> None:
    """Wait until the relay published everything and the consumers acked all of it."""
    head = tickets.get("/ops/relay").json()["head"]
    eventually(lambda: tickets.get("/ops/relay").json()["published"] >= head)
    for spec in specs:
        eventually(partial(_is_finished, bus, spec))


def _is_finished(bus: BusSettings, spec: ConsumerSpec) -> bool:
    return asyncio.run(_unfinished(bus, spec)) == 0
