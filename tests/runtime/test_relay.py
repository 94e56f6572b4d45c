"""The outbox relay on a real nats-server: ordered, acknowledged, crash-safe."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import nats
import orjson
from fastapi.testclient import TestClient

from events.topology import TICKETS_STREAM
from services.runtime.outbox import OutboxEvent
from services.runtime.relay import JetStreamPublisher, Publisher, Relay
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import RELAY_NAME, Tickets, create_app
from tests.conftest import eventually, tickets_settings
from tests.support.units import enrol
from tests.tickets.helpers import RESIDENT, STAFF, posting, unit


class SimulatedCrash(BaseException):
    """Stands in for the process dying: nothing after it runs, not even `except Exception`."""


class CrashAfterPublishing:
    """Publishes for real, then 'dies' before the relay can record its position."""

    def __init__(self, real: Publisher, crash_after: int) -> None:
        self.real = real
        self.crash_after = crash_after
        self.published = 0

    async def publish(self, event: OutboxEvent) -> None:
        await self.real.publish(event)
        self.published += 1
        if self.published == self.crash_after:
            raise SimulatedCrash


async def _stream_messages(bus: BusSettings) -> int:
    client = await nats.connect(bus.url)
    try:
        info = await client.jetstream().stream_info(TICKETS_STREAM.name)
        return info.state.messages
    finally:
        await client.close()


def _post_and_advance(client: TestClient, wishes: int) -> int:
    """Post wishes and claim each; return the number of wish events stored."""
    enrol(client.app.state.tickets.units, [f"u{i}" for i in range(wishes)])  # type: ignore[attr-defined]
    for i in range(wishes):
        wish_id = client.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
        client.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
        claim = client.post(
            f"/wishes/{wish_id}/claims", json={"unit_id": f"u{i}"}, headers=unit(f"u{i}")
        )
        claim.raise_for_status()
    return wishes * 3


def _relay(tickets: Tickets, publisher: Publisher) -> Relay:
    return Relay(
        outbox=tickets.outbox, recorder=tickets.store.recorder, publisher=publisher, batch_size=50
    )


def test_a_relay_killed_between_publish_and_position_save_republishes_and_the_ledger_counts_once(
    bus: BusSettings, stores: dict[str, StoreSettings], ledger: TestClient
) -> None:
    app = create_app(tickets_settings(bus, stores["tickets"], relay_enabled=False))
    with TestClient(app) as client:
        events = _post_and_advance(client, wishes=4)
        tickets: Tickets = app.state.tickets

        async def crash_then_restart() -> None:
            await tickets.broker.connect()
            real = JetStreamPublisher(tickets.broker, stream=TICKETS_STREAM.name, timeout=5)
            crashing = CrashAfterPublishing(real, crash_after=7)
            with contextlib.suppress(SimulatedCrash):
                await _relay(tickets, crashing).run_once()
            assert await asyncio.to_thread(tickets.relay.positions.load, RELAY_NAME) == 0
            assert await _stream_messages(bus) == 7
            restarted = _relay(tickets, real)
            assert await restarted.run_once() == events
            await tickets.broker.stop()

        asyncio.run(crash_then_restart())
        assert tickets.relay_status()["lag"] == 0

    assert asyncio.run(_stream_messages(bus)) == events  # JetStream dropped the 7 duplicates

    def ledger_complete() -> dict[str, int] | None:
        figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
        return figures if figures.get("claims") == 4 else None

    figures = eventually(ledger_complete)
    assert figures["wishes"] == 4
    assert figures["by_state"]["claimed"] == 4


def test_a_duplicate_arriving_after_the_dedup_window_has_no_second_effect_on_the_ledger(
    tickets: TestClient, ledger: TestClient, bus: BusSettings
) -> None:
    wish_id = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
    tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()

    def posted() -> bool:
        figures: dict[str, Any] = ledger.get("/ledger/jinfeng/c01/wishes").json()
        return bool(figures.get("by_state", {}).get("open") == 1)

    eventually(posted)

    async def republish_with_new_message_ids() -> None:
        client = await nats.connect(bus.url)
        js = client.jetstream()
        sub = await js.pull_subscribe("shiliu.*.*.tickets.wish.>", stream=TICKETS_STREAM.name)
        for message in await sub.fetch(2, timeout=5):
            headers = dict(message.headers or {})
            headers["Nats-Msg-Id"] = str(uuid.uuid4())  # as if the dedup window had passed
            await js.publish(message.subject, message.data, headers=headers,
                             stream=TICKETS_STREAM.name)  # fmt: skip
        await client.close()

    asyncio.run(republish_with_new_message_ids())
    assert asyncio.run(_stream_messages(bus)) == 4

    eventually(lambda: asyncio.run(_consumer_pending(bus)) == 0)
    assert ledger.get("/ops/consumer").json()["applied"] == 2  # the two copies had no effect
    figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
    assert figures["wishes"] == 1
    assert figures["by_state"]["open"] == 1


async def _consumer_pending(bus: BusSettings) -> int:
    client = await nats.connect(bus.url)
    try:
        info = await client.jetstream().consumer_info(TICKETS_STREAM.name, "ledger-wishes")
        return int(info.num_pending + info.num_ack_pending)
    finally:
        await client.close()


def test_published_messages_carry_a_deterministic_message_id_and_their_position(
    tickets: TestClient, bus: BusSettings
) -> None:
    tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()

    async def first_message() -> tuple[dict[str, str], dict[str, object]]:
        client = await nats.connect(bus.url)
        js = client.jetstream()
        sub = await js.pull_subscribe("shiliu.*.*.tickets.wish.>", stream=TICKETS_STREAM.name)
        [message] = await sub.fetch(1, timeout=10)
        await client.close()
        return dict(message.headers or {}), orjson.loads(message.data)

    headers, body = asyncio.run(first_message())
    assert headers["Nats-Msg-Id"] == body["event_id"]
    recorder = tickets.app.state.tickets.store.recorder  # type: ignore[attr-defined]
    [posted] = [n for n in recorder.select_notifications(1, 100) if n.topic.endswith("Wish.Posted")]
    assert headers["Shiliu-Position"] == str(body["position"]) == str(posted.id)
    assert body["type"] == "WishPosted"
    assert "13812345678" not in orjson.dumps(body).decode()
