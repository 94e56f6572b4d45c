"""Two `shiliu serve tickets` processes on one store (twins behind a load balancer): each runs
the local views, and neither applies a notification the other applied. The board view used
to count a refused claim once per twin that read it (refusals 86 for 57 refused claims)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.runtime.nats_server import free_port
from services.runtime.settings import BusSettings, StoreSettings
from tests.conftest import demo_territory, eventually, master_key, tickets_settings
from tests.ledger.faults import live_ledger_env, process_ready
from tests.support.tokens import auth_settings
from tests.support.units import enrolled_in
from tests.tickets.helpers import RESIDENT, STAFF, posting, unit

CLAIMS = 60
QUOTA = 3


@contextmanager
def twins(bus: BusSettings, store: StoreSettings, logs: Path) -> Iterator[list[str]]:
    """Two tickets processes on one store; their base URLs."""
    key = master_key()
    enrolled_in(tickets_settings(bus, store, relay_enabled=False),
                [f"u{i}" for i in range(CLAIMS)])  # fmt: skip
    on_store = {k.replace("LEDGER", "TICKETS"): v for k, v in live_ledger_env(store).items()}
    ports, processes = [free_port(), free_port()], []
    try:
        for i, port in enumerate(ports):
            env = {**os.environ, **on_store, "SHILIU_TICKETS_MASTER_KEY": key,
                   "SHILIU_TICKETS_TERRITORY_FILES": f'["{demo_territory()}"]',
                   "SHILIU_TICKETS_BUS__URL": bus.url, "SHILIU_TICKETS_PORT": str(port),
                   "SHILIU_TICKETS_AUTH__PUBLIC_KEY_FILE": str(auth_settings().public_key_file),
                   "SHILIU_TICKETS_LIMITS__COMMAND_BURST": "10000"}  # fmt: skip
            processes.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "shiliu"), "serve", "tickets"],
                env=env, stdout=subprocess.DEVNULL, stderr=(logs / f"tickets-{i}.log").open("wb"),
            ))  # fmt: skip
        for port in ports:
            eventually(lambda port=port: process_ready(port), timeout=60)  # type: ignore[misc]
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=30)


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_twin_tickets_processes_on_one_store_apply_each_notification_once_to_the_board(
    bus: BusSettings, stores: dict[str, StoreSettings], tmp_path: Path, ledger: TestClient
) -> None:
    with twins(bus, stores["tickets"], tmp_path) as urls:
        body = posting(claim_mode="joint", quota=QUOTA)
        posted = httpx.post(f"{urls[0]}/wishes", json=body, headers=RESIDENT, timeout=10)
        assert posted.status_code == 201, posted.text
        wish_id = posted.json()["wish"]["id"]
        verified = httpx.post(f"{urls[1]}/wishes/{wish_id}/verification", headers=STAFF)
        assert verified.status_code == 200, verified.text
        start = threading.Barrier(CLAIMS)

        def claim(i: int) -> httpx.Response:
            start.wait()
            url = f"{urls[i % 2]}/wishes/{wish_id}/claims"
            return httpx.post(url, json={"unit_id": f"u{i}"}, headers=unit(f"u{i}"), timeout=120)

        with ThreadPoolExecutor(CLAIMS) as pool:
            answers = Counter(r.status_code for r in pool.map(claim, range(CLAIMS)))
        assert answers == {201: QUOTA, 409: CLAIMS - QUOTA}
        stored = httpx.get(f"{urls[0]}/wishes/{wish_id}", headers=STAFF, timeout=10).json()

        def boards() -> list[tuple[list[str], int]] | None:
            seen = []
            for url in urls:
                listed = httpx.get(
                    f"{url}/wishes?district=jinfeng&community=c01", headers=STAFF, timeout=10
                )
                [item] = listed.json()["items"]
                seen.append((sorted(item["claimants"]), item["refusals"]))
            return seen if len(set(map(str, seen))) == 1 and seen[0][0] else None

        seen: Any = eventually(boards, timeout=20)
        for url in urls:
            ready = httpx.get(f"{url}/health/ready", timeout=10)  # no view pass failing
            assert ready.status_code == 200, ready.text
        counted = eventually(
            lambda: (
                (f := ledger.get("/ledger/jinfeng/c01/wishes").json()).get("claims") == QUOTA
                and f["refused_claims"] == CLAIMS - QUOTA
                and f
            ),
            timeout=30,
        )  # the ledger, fed by both twins' relays, agrees with the store
    assert seen[0] == (sorted(stored["claimants"]), CLAIMS - QUOTA)
    assert len(seen[0][0]) == QUOTA
    assert counted["by_state"]["claimed"] == 1
