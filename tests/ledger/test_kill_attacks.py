"""`kill -9` of a real `shiliu serve ledger` process while it catches up on a stream that lost
most of its messages (so most events come from the source by replay): after each restart the
ledger goes on where its store says, and in the end it counts each event exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi.testclient import TestClient

from events.topology import TICKETS_STREAM
from services.runtime.nats_server import free_port
from services.runtime.settings import BusSettings, StoreSettings
from tests.conftest import eventually
from tests.ledger.faults import AUDITOR, claimed_wishes, live_ledger_env, process_ready
from tests.support.tokens import auth_settings

WISHES = 120


def _ledger(
    bus: BusSettings, store: StoreSettings, port: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, **live_ledger_env(store), "SHILIU_LEDGER_BUS__URL": bus.url,
           "SHILIU_LEDGER_PORT": str(port), "SHILIU_LEDGER_GAP_GRACE_SECONDS": "0.1",
           "SHILIU_LEDGER_HEAD_CHECK_SECONDS": "0.2", "SHILIU_LEDGER_BATCH_SIZE": "7",
           "SHILIU_LEDGER_AUTH__PUBLIC_KEY_FILE": str(auth_settings().public_key_file)}  # fmt: skip
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "shiliu"), "serve", "ledger"],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"),
    )  # fmt: skip


async def _lose_most_messages(bus: BusSettings, keep_one_in: int) -> int:
    """Delete all but one message in `keep_one_in` (at random) from the stream; how many left."""
    client = await nats.connect(bus.url)
    try:
        js = client.jetstream()
        info = await js.stream_info(TICKETS_STREAM.name)
        sequences = list(range(info.state.first_seq, info.state.last_seq + 1))
        rng = random.Random(7)
        lost = [s for s in sequences if rng.randrange(keep_one_in)]
        for sequence in lost:
            await js.delete_msg(TICKETS_STREAM.name, sequence)
        return len(sequences) - len(lost)
    finally:
        await client.close()


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_ledger_killed_again_and_again_mid_catch_up_from_the_source_counts_each_event_once(
    tickets: TestClient, bus: BusSettings, stores: dict[str, StoreSettings], tmp_path: Path
) -> None:
    claimed_wishes(tickets, WISHES)
    head = eventually(lambda: (r := tickets.get("/ops/relay").json())["lag"] == 0 and r)
    head = int(head["feeds"]["tickets.wish"])
    assert head == 3 * WISHES
    assert asyncio.run(_lose_most_messages(bus, keep_one_in=3)) > 0
    port = free_port()
    log = tmp_path / "ledger.log"

    def status() -> dict[str, Any] | None:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/ops/consumer", headers=AUDITOR, timeout=2)
        except httpx.HTTPError:
            return None
        return answer.json() if answer.status_code == 200 else None

    def mark() -> int:
        found = status()
        return (
            int(found["consumers"]["ledger-wishes"]["marks"].get("tickets.wish", 0)) if found else 0
        )

    marks_at_kill = []
    for _ in range(9):  # killed once it has moved, until it catches up between two kills
        process = _ledger(bus, stores["ledger"], port, log)
        try:
            eventually(lambda: process_ready(port) or mark() > 0, timeout=60)
            reached = mark()
            if reached >= head:
                break
            eventually(lambda reached=reached: mark() > reached, timeout=30)  # type: ignore[misc]
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        marks_at_kill.append(reached)
    process = _ledger(bus, stores["ledger"], port, log)
    try:
        eventually(lambda: mark() == head, timeout=90)
        found = status()
        assert found is not None
        assert found["parked"] == 0, log.read_text(errors="replace")[-3000:]
        figures = httpx.get(
            f"http://127.0.0.1:{port}/ledger/jinfeng/c01/wishes", headers=AUDITOR, timeout=5
        ).json()
        assert (figures["wishes"], figures["claims"]) == (WISHES, WISHES)
        assert figures["by_state"]["claimed"] == WISHES
        assert sum(u["claims"] for u in figures["claims_by_unit"]) == WISHES
        eventually(lambda: (s := status()) is not None and s["gaps"]["open"] == 0, timeout=30)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert len(marks_at_kill) >= 2, marks_at_kill  # it was killed mid-way, more than once
