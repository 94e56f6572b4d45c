"""Liveness and readiness, and loops that restart instead of stopping silently."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
from fastapi.testclient import TestClient

from events.topology import TICKETS_STREAM
from services.runtime.bus import provision
from services.runtime.nats_server import EmbeddedNats
from services.runtime.settings import BusSettings
from services.runtime.supervise import Supervisor
from tests.conftest import eventually
from tests.tickets.helpers import RESIDENT, posting


def test_the_ledger_is_ready_with_its_counts_and_not_ready_once_the_bus_is_gone(
    ledger: TestClient, tickets: TestClient, nats_server: EmbeddedNats
) -> None:
    ready = eventually(lambda: (r := ledger.get("/health/ready")).status_code == 200 and r)
    body = ready.json()
    ready_checks = {"store": True, "loops": True, "bus": True, "gaps": True, "sources": True}
    assert body["checks"] == ready_checks
    assert body["parked"] == 0
    assert body["gaps"] == {"detected": 0, "repaired": 0, "open": 0, "events_repaired": 0}
    assert set(body["lag"]) == {"ledger-wishes", "ledger-tickets", "ledger-disputes",
                                "ledger-visits"}  # fmt: skip
    assert tickets.get("/health/ready").json()["checks"]["bus"] is True

    nats_server.stop()
    gone = eventually(lambda: (r := ledger.get("/health/ready")).status_code == 503 and r)
    assert gone.json()["checks"]["bus"] is False
    assert gone.json()["status"] == "not_ready"
    assert ledger.get("/health/live").json() == {"status": "live", "service": "ledger"}
    assert eventually(lambda: tickets.get("/health/ready").status_code == 503)


async def _delete_stream(bus: BusSettings) -> None:
    """As an operator's mistake would: the stream and, with it, every consumer on it."""
    client = await nats.connect(bus.url)  # an open server: every connection may do this
    try:
        await client.jetstream().delete_stream(TICKETS_STREAM.name)
    finally:
        await client.close()


def _answer(client: TestClient, status: int) -> Any:
    return eventually(lambda: (r := client.get("/health/ready")).status_code == status and r.json())


def test_the_ledger_is_not_ready_while_its_stream_is_deleted_and_ready_once_it_is_provisioned(
    ledger: TestClient, bus: BusSettings
) -> None:
    assert _answer(ledger, 200)["problems"] == {}

    asyncio.run(_delete_stream(bus))
    every = {"ledger-wishes", "ledger-tickets", "ledger-disputes", "ledger-visits"}

    def all_four_waiting() -> Any:  # each loop notices at its own next fetch
        response = ledger.get("/health/ready")
        body = response.json()
        return response.status_code == 503 and set(body["problems"]) == every and body

    gone = eventually(all_four_waiting)
    assert gone["checks"]["loops"] is False
    assert "consumer ledger-wishes on stream SHILIU_TICKETS" in gone["problems"]["ledger-wishes"]
    assert gone["loops"]["ledger-wishes"]["running"] is True  # running, yet not working
    assert gone["loops"]["ledger-wishes"]["working"] is False

    asyncio.run(provision(bus))
    back = _answer(ledger, 200)
    assert back["problems"] == {}
    assert back["checks"] == {
        "store": True,
        "loops": True,
        "bus": True,
        "gaps": True,
        "sources": True,
    }


def test_the_relay_is_not_ready_while_its_publishes_fail_and_ready_once_they_go_through(
    tickets: TestClient, bus: BusSettings
) -> None:
    assert _answer(tickets, 200)["problems"] == {}

    asyncio.run(_delete_stream(bus))
    tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()
    failing = _answer(tickets, 503)
    assert failing["checks"]["loops"] is False
    assert list(failing["problems"]) == ["tickets-relay"]
    assert "its last pass failed" in failing["problems"]["tickets-relay"]
    assert failing["relay"]["lag"] > 0

    asyncio.run(provision(bus))
    back = _answer(tickets, 200)
    assert back["problems"] == {}
    assert eventually(lambda: tickets.get("/ops/relay").json()["lag"] == 0)


def test_a_failing_loop_is_logged_counted_and_restarted_with_backoff() -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            msg = f"failure {len(runs)}"
            raise RuntimeError(msg)
        await asyncio.sleep(3600)

    async def scenario() -> dict[str, dict[str, object]]:
        supervisor = Supervisor(first_backoff=0.01)
        supervisor.start("flaky", flaky)
        for _ in range(500):
            if len(runs) >= 3:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        assert supervisor.alive
        report = supervisor.report()
        await supervisor.stop()
        return report

    report = asyncio.run(scenario())
    assert report["flaky"]["failures"] == 2
    assert report["flaky"]["running"] is True
    assert "failure 2" in str(report["flaky"]["last_error"])
