"""Liveness and readiness, and loops that restart instead of stopping silently."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from services.runtime.nats_server import EmbeddedNats
from services.runtime.supervise import Supervisor
from tests.conftest import eventually


def test_the_ledger_is_ready_with_its_counts_and_not_ready_once_the_bus_is_gone(
    ledger: TestClient, tickets: TestClient, nats_server: EmbeddedNats
) -> None:
    ready = eventually(lambda: (r := ledger.get("/health/ready")).status_code == 200 and r)
    body = ready.json()
    assert body["checks"] == {"store": True, "loops": True, "bus": True}
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
