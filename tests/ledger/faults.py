"""Real parts for the delivery-fault tests: a secured nats-server with an admin who can delete
and purge, the tickets service as the source of record, the ledger, and what they check."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
from fastapi.testclient import TestClient
from nats.aio.client import Client

from events.subjects import subject_for
from events.topology import LEDGER_WISHES, TICKETS_STREAM
from events.wishes import WishPosted
from services.ledger.main import LedgerSettings
from services.ledger.main import create_app as create_ledger
from services.runtime.nats_auth import bus_as, hashed_authorization, stored_passwords
from services.runtime.nats_server import EmbeddedNats, free_port
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import create_app as create_tickets
from tests.conftest import eventually, tickets_settings
from tests.ledger.builders import Log
from tests.support.tokens import auth_settings, bearer
from tests.support.units import enrol
from tests.tickets.helpers import RESIDENT, STAFF, posting, street_of, unit

ADMIN = ("admin", "admin-secret-for-tests-only")
AUDITOR = bearer("auditor-1", "auditor", scope={})
OPERATOR = bearer("operator-1", "operator", scope={})


class Bus:
    """A secured nats-server as the embedded default runs it, plus an all-powerful admin."""

    def __init__(self, root: Path) -> None:
        self.data_dir = root / "data"
        self.passwords = stored_passwords(self.data_dir)
        users = hashed_authorization(self.passwords).replace(
            "  users = [",
            f'  users = [\n    {{ user: "{ADMIN[0]}", password: "{ADMIN[1]}" }}',
            1,
        )
        self.server = EmbeddedNats(root / "nats", port=free_port(), authorization=users)

    def as_user(self, user: str) -> BusSettings:
        return bus_as(user, BusSettings(url=self.server.url), self.passwords)

    async def admin(self) -> Client:
        return await nats.connect(self.server.url, user=ADMIN[0], password=ADMIN[1])


@contextlib.contextmanager
def tickets_on(bus: Bus, store: StoreSettings) -> Iterator[TestClient]:
    app = create_tickets(tickets_settings(bus.as_user("tickets"), store))
    with TestClient(app, headers=OPERATOR) as client:
        yield client


@contextlib.contextmanager
def ledger_on(bus: Bus, store: StoreSettings, **settings: Any) -> Iterator[TestClient]:
    settings.setdefault("gap_grace_seconds", 0.5)
    settings.setdefault("head_check_seconds", 0.5)
    ledger_settings = LedgerSettings(
        store=store, bus=bus.as_user("ledger"), auth=auth_settings(), **settings
    )
    with TestClient(create_ledger(ledger_settings), headers=AUDITOR) as client:
        yield client


def claimed_wishes(tickets: TestClient, count: int, community: str = "c01") -> None:
    """`count` wishes posted, verified and claimed: three wish events each (each claimed by a
    unit of its own, enrolled in the community first, as the registry would)."""
    roster = tickets.app.state.tickets.units  # type: ignore[attr-defined]
    units = [f"{community}-u{i}" for i in range(count)]
    known = set(_enrolled(roster))
    fresh = [u for u in units if u not in known]
    enrol(roster, fresh, community=community, street=street_of(community))
    for unit_id in units:
        wish = tickets.post("/wishes", json=posting(community=community), headers=RESIDENT)
        wish_id = wish.json()["wish"]["id"]
        tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
        claim = {"unit_id": unit_id}
        tickets.post(f"/wishes/{wish_id}/claims", json=claim, headers=unit(unit_id))


def _enrolled(roster: Any) -> list[str]:
    with roster.database.transaction(commit=False) as tx:
        tx.execute("SELECT unit_id FROM {t:unit_roster}")
        return [str(row["unit_id"]) for row in tx.fetchall()]


def published_head(tickets: TestClient) -> int:
    relay = eventually(lambda: (r := tickets.get("/ops/relay").json())["lag"] == 0 and r)
    return int(relay["feeds"]["tickets.wish"])


def wish_ledger_matches_the_store(ledger: TestClient, tickets: TestClient, wishes: int) -> None:
    """The ledger has settled every wish event the source published, each exactly once."""
    head = published_head(tickets)

    def caught_up() -> dict[str, Any] | None:
        status = ledger.get("/ops/consumer").json()["consumers"]["ledger-wishes"]
        return status if status["marks"].get("tickets.wish") == head else None

    eventually(caught_up, timeout=30)
    figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
    assert (figures["wishes"], figures["claims"]) == (wishes, wishes)
    assert figures["by_state"]["claimed"] == wishes


def consumer_gaps(ledger: TestClient) -> dict[str, int]:
    return dict(ledger.get("/ops/consumer").json()["consumers"]["ledger-wishes"]["gaps"])


async def stream_sequences(bus: Bus) -> list[int]:
    client = await bus.admin()
    try:
        js = client.jetstream()
        info = await js.stream_info(TICKETS_STREAM.name)
        return list(range(info.state.first_seq, info.state.last_seq + 1))
    finally:
        await client.close()


async def ack_pending(bus: Bus) -> int:
    client = await bus.admin()
    try:
        info = await client.jetstream().consumer_info(LEDGER_WISHES.stream, LEDGER_WISHES.durable)
        return int(info.num_ack_pending)
    finally:
        await client.close()


async def delete_messages(bus: Bus, sequences: list[int]) -> None:
    client = await bus.admin()
    try:
        js = client.jetstream()
        for sequence in sequences:
            await js.delete_msg(TICKETS_STREAM.name, sequence)
    finally:
        await client.close()


async def purge_stream(bus: Bus) -> None:
    client = await bus.admin()
    try:
        await client.jetstream().purge_stream(TICKETS_STREAM.name)
    finally:
        await client.close()


def live_ledger_env(store: StoreSettings) -> dict[str, str]:
    if store.kind == "sqlite":
        return {"SHILIU_LEDGER_STORE__KIND": "sqlite",
                "SHILIU_LEDGER_STORE__SQLITE_PATH": str(store.sqlite_path)}  # fmt: skip
    return {
        "SHILIU_LEDGER_STORE__KIND": "postgres", "SHILIU_LEDGER_STORE__PG_HOST": store.pg_host,
        "SHILIU_LEDGER_STORE__PG_PORT": str(store.pg_port),
        "SHILIU_LEDGER_STORE__PG_DBNAME": store.pg_dbname,
        "SHILIU_LEDGER_STORE__PG_USER": store.pg_user,
        "SHILIU_LEDGER_STORE__PG_SCHEMA": store.pg_schema,
    }  # fmt: skip


def forged_wish(log: Log, **envelope: Any) -> list[tuple[str, bytes]]:
    event = WishPosted(**{**log.at(0), **envelope}, wish_id=uuid.uuid4(),
                       resident_id="person-9", title="伪造", category="meal",
                       claim_mode="exclusive", quota=1)  # fmt: skip
    return [(subject_for(event), event.model_dump_json().encode())]


async def publish_raw(bus: Bus, messages: list[tuple[str, bytes]]) -> None:
    client = await bus.admin()
    try:
        js = client.jetstream()
        for subject, payload in messages:
            await js.publish(subject, payload, stream=TICKETS_STREAM.name, timeout=5)
    finally:
        await client.close()


def process_ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
