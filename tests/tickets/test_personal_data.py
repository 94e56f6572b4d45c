"""Personal data stays out of events and the bus, sealed per person, and erasable."""

from __future__ import annotations

import asyncio
import uuid

import nats
from fastapi.testclient import TestClient

from events.topology import TICKETS_STREAM
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import Tickets
from tests.conftest import eventually
from tests.tickets.helpers import RESIDENT, posting

PHONE = "13812345678"
NAME = "王秀兰"


async def _all_bus_payloads(bus: BusSettings) -> bytes:
    client = await nats.connect(bus.url)
    sub = await client.jetstream().pull_subscribe(">", stream=TICKETS_STREAM.name)
    messages = await sub.fetch(100, timeout=5)
    await client.close()
    return b"".join(m.data + repr(m.headers).encode() for m in messages)


def test_contact_details_are_neither_in_the_event_store_nor_on_the_bus(
    tickets: TestClient, bus: BusSettings, stores: dict[str, StoreSettings]
) -> None:
    tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()
    eventually(lambda: tickets.get("/ops/relay").json()["lag"] == 0)

    payloads = asyncio.run(_all_bus_payloads(bus))
    assert b"WishPosted" in payloads
    for secret in (PHONE, NAME, "3号楼2单元101", "独居老人"):
        assert secret.encode() not in payloads
    store = stores["tickets"].sqlite_path.read_bytes()
    wal = stores["tickets"].sqlite_path.with_name("tickets.sqlite-wal")
    raw = store + (wal.read_bytes() if wal.exists() else b"")
    assert PHONE.encode() not in raw
    assert NAME.encode() not in raw


def test_erasing_a_person_destroys_their_data_but_not_the_wish(tickets: TestClient) -> None:
    wish_id = uuid.UUID(
        tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
    )
    service: Tickets = tickets.app.state.tickets  # type: ignore[attr-defined]
    kept = service.board.personal_details("person-1", wish_id)
    assert kept is not None
    assert kept["contact"]["phone"] == PHONE

    assert service.board.vault is not None
    service.board.vault.erase("person-1")

    assert service.board.personal_details("person-1", wish_id) is None
    assert tickets.get(f"/wishes/{wish_id}").json()["title"] == posting()["title"]
