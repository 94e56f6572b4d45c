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
from faststream.nats import NatsBroker

from bench.timing import Bracketed, Rate
from events.subjects import subject_for
from events.topology import TICKETS_STREAM
from events.wishes import ClaimMode, WishCategory
from services.runtime.bus import make_broker, provision
from services.runtime.database import Database
from services.runtime.nats_server import EmbeddedNats, free_port
from services.runtime.outbox import Outbox, encode
from services.runtime.place import Place, Stamp
from services.runtime.publishing import EventIds
from services.runtime.relay import JetStreamPublisher, Relay
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import open_tickets_store
from services.tickets.publishing import translator
from services.tickets.store import TicketsStore
from services.tickets.wishes.domain import Wish
from services.tickets.wishes.publishing import WISHES

Note = Callable[[str], None]
Message = tuple[str, bytes]
TIMEOUT = 5.0
SAVE_BATCH = 100


@dataclass(frozen=True)
class RelayRow:
    """Relay events/s interleaved with raw JetStream publishes/s of the same messages."""

    events: int
    payload_bytes: float
    result: Bracketed


def fill(board: TicketsStore, wishes: int) -> None:
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


def relay_for(board: TicketsStore, broker: NatsBroker) -> Relay:
    database = Database(getattr(board.recorder, "datastore"))  # noqa: B009
    outbox = Outbox(database, translator(board.mapper, EventIds(bytes(32)), (WISHES,)))
    outbox.create_tables()
    return Relay(
        outbox=outbox,
        recorder=board.recorder,
        publisher=JetStreamPublisher(broker, stream=TICKETS_STREAM.name, timeout=TIMEOUT),
    )


async def relay_once(relay: Relay) -> Rate:
    started = time.perf_counter()
    sent = await relay.run_once()
    return Rate(sent, time.perf_counter() - started)


async def fill_round(board: TicketsStore, wishes: int) -> list[Message]:
    """Append fresh wish events; return them as the relay will publish them."""
    after = board.recorder.max_notification_id() or 0
    await asyncio.to_thread(fill, board, wishes)
    translate = translator(board.mapper, EventIds(bytes(32)), (WISHES,))
    notifications = board.recorder.select_notifications(after + 1, 3 * wishes)
    translated = [translate(n) for n in notifications]
    return [(subject_for(e), encode(e)) for e in translated if e is not None]


async def bracketed_relay(board: TicketsStore, url: str, wishes: int, rounds: int) -> RelayRow:
    """Each round publishes its fresh events raw, then relays them; a last raw slice closes."""
    broker = make_broker(BusSettings(url=url), name="shiliu-bench")
    await broker.connect()
    relay = relay_for(board, broker)
    raws: list[Rate] = []
    relayed: list[Rate] = []
    sizes: list[int] = []
    try:
        for _ in range(rounds):
            messages = await fill_round(board, wishes)
            sizes += [len(payload) for _, payload in messages]
            raws.append(await publish_raw(url, messages))
            relayed.append(await relay_once(relay))
        raws.append(await publish_raw(url, messages))
    finally:
        await broker.stop()
    result = Bracketed(path=tuple(relayed), raw=tuple(raws))
    return RelayRow(len(sizes), sum(sizes) / len(sizes), result)


async def relay_row(workdir: Path, wishes: int, rounds: int, note: Note) -> RelayRow:
    note(f"relay: {rounds} rounds of {3 * wishes} events, raw publishes between")
    board = open_tickets_store(StoreSettings(sqlite_path=workdir / "relay.sqlite"))
    server = EmbeddedNats(workdir / "nats", port=free_port())
    try:
        server.start()
        await provision(BusSettings(url=server.url))
        return await bracketed_relay(board, server.url, wishes, rounds)
    finally:
        server.stop()
        board.close()
