"""The outbox relay onto a real nats-server beside raw JetStream publishes awaited one by one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import nats

from bench.timing import Rate
from events.subjects import subject_for
from events.topology import TICKETS_STREAM
from events.wishes import ClaimMode, WishCategory
from services.runtime.bus import make_broker, provision
from services.runtime.database import Database, eventsourcing_env
from services.runtime.nats_server import EmbeddedNats, free_port
from services.runtime.positions import PositionStore
from services.runtime.relay import JetStreamPublisher, Relay, encode
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.application import WishBoard
from services.tickets.domain import Place, Stamp, Wish
from services.tickets.publishing import translator

Note = Callable[[str], None]
Message = tuple[str, bytes]
TIMEOUT = 5.0
SAVE_BATCH = 100


@dataclass(frozen=True)
class RelayRow:
    """Relay events/s bracketed by raw JetStream publishes/s before and after."""

    events: int
    payload_bytes: float
    relay: Rate
    raw_before: Rate
    raw_after: Rate

    @property
    def raw(self) -> float:
        return (self.raw_before.per_second + self.raw_after.per_second) / 2

    @property
    def ratio(self) -> float:
        return self.relay.per_second / self.raw if self.raw else 0.0


def fill(board: WishBoard, wishes: int) -> None:
    """Posted, verified and claimed wishes (three events each), a hundred per transaction."""
    batch: list[Wish] = []
    for number in range(wishes):
        place = Place("jinfeng", "s01", f"c{number % 8:02d}", "g01")
        wish = Wish.post(
            stamp=_stamp(place, f"resident-{number}", "resident"),
            resident_id=f"person-{number}",
            title="吃一顿热腾腾的饺子",
            category=WishCategory.MEAL,
            claim_mode=ClaimMode.EXCLUSIVE,
            quota=1,
            expires_at=None,
        )
        wish.verify(_stamp(place, "staff-1", "community_staff"))
        wish.claim(f"unit-{number}", _stamp(place, f"unit-{number}-staff", "unit_staff"))
        batch.append(wish)
        if len(batch) == SAVE_BATCH:
            board.save(*batch)
            batch.clear()
    board.save(*batch)


def _stamp(place: Place, actor_id: str, role: str) -> Stamp:
    return Stamp(place=place, actor_id=actor_id, actor_role=role, occurred_at=datetime.now(UTC))


async def publish_raw(url: str, messages: Sequence[Message]) -> Rate:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        started = time.perf_counter()
        for subject, payload in messages:
            await js.publish(
                subject,
                payload,
                stream=TICKETS_STREAM.name,
                timeout=TIMEOUT,
                headers={"Nats-Msg-Id": uuid4().hex},
            )
        return Rate(len(messages), time.perf_counter() - started)
    finally:
        await client.drain()


async def run_relay(board: WishBoard, bus: BusSettings) -> Rate:
    broker = make_broker(bus, name="shiliu-bench")
    await broker.connect()
    try:
        relay = Relay(
            name="relay",
            recorder=board.recorder,
            translate=translator(board.mapper),
            positions=PositionStore(Database(getattr(board.recorder, "datastore"))),  # noqa: B009
            publisher=JetStreamPublisher(broker, stream=TICKETS_STREAM.name, timeout=TIMEOUT),
        )
        started = time.perf_counter()
        sent = await relay.run_once()
        return Rate(sent, time.perf_counter() - started)
    finally:
        await broker.stop()


def messages_of(board: WishBoard, events: int) -> list[Message]:
    """What the relay will publish (same subjects and payloads), for the raw publisher."""
    translate = translator(board.mapper)
    translated = [translate(n) for n in board.recorder.select_notifications(1, events)]
    return [(subject_for(e), encode(e)) for e in translated if e is not None]


async def relay_row(workdir: Path, events: int, note: Note) -> RelayRow:
    note(f"relay: filling a tickets store with {events} wish events")
    board = WishBoard(eventsourcing_env(StoreSettings(sqlite_path=workdir / "relay.sqlite")))
    server = EmbeddedNats(workdir / "nats", port=free_port())
    try:
        await asyncio.to_thread(fill, board, events // 3)
        messages = messages_of(board, events)
        server.start()
        bus = BusSettings(url=server.url)
        await provision(bus)
        note("relay: raw JetStream publishes (before)")
        raw_before = await publish_raw(server.url, messages)
        note("relay: relay run_once")
        relayed = await run_relay(board, bus)
        note("relay: raw JetStream publishes (after)")
        raw_after = await publish_raw(server.url, messages)
    finally:
        server.stop()
        board.close()
    size = sum(len(payload) for _, payload in messages) / max(len(messages), 1)
    return RelayRow(len(messages), size, relayed, raw_before, raw_after)
