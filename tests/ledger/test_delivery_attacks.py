"""What an attacker and an unlucky operator tried against the spine, each reproduced for real:
racing retries over HTTP against two ledger processes on one store, forgers on the bus (a
predictable event id, an altered copy, a forged "settled" header, a number far ahead that is
deleted later), and a genuine event lost while the relay's flush was slow."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import httpx
import nats
import psycopg
import pytest
from fastapi.testclient import TestClient

from events.subjects import subject_for
from events.topology import TICKETS_STREAM
from events.wishes import WishClaimed, WishPosted, WishVerified
from services.ledger.projection import WishLedger
from services.runtime.database import Database, open_datastore
from services.runtime.nats_server import free_port
from services.runtime.outbox import OutboxEvent
from services.runtime.publishing import EventIds
from services.runtime.relay import Publisher
from services.runtime.settings import BusSettings, StoreSettings
from tests.conftest import PG, eventually
from tests.ledger.builders import Log
from tests.ledger.faults import (
    AUDITOR,
    OPERATOR,
    Bus,
    delete_messages,
    forged_wish,
    ledger_on,
    live_ledger_env,
    process_ready,
    publish_raw,
    published_head,
    stream_sequences,
    tickets_on,
)
from tests.support.tokens import auth_settings
from tests.tickets.helpers import RESIDENT, STAFF, posting, unit


@contextlib.contextmanager
def ledger_processes(
    bus: BusSettings, store: StoreSettings, logs: Path, count: int = 2
) -> Iterator[list[str]]:
    """`count` real `shiliu serve ledger` processes on one store; their base URLs."""
    urls, processes = [], []
    public_key = auth_settings().public_key_file
    try:
        for i in range(count):
            port = free_port()
            env = {**os.environ, **live_ledger_env(store), "SHILIU_LEDGER_BUS__URL": bus.url,
                   "SHILIU_LEDGER_PORT": str(port), "SHILIU_LEDGER_GAP_GRACE_SECONDS": "0.5",
                   "SHILIU_LEDGER_AUTH__PUBLIC_KEY_FILE": str(public_key)}  # fmt: skip
            processes.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "shiliu"), "serve", "ledger"],
                env=env, stdout=subprocess.DEVNULL, stderr=(logs / f"ledger-{i}.log").open("wb"),
            ))  # fmt: skip
            urls.append(f"http://127.0.0.1:{port}")
        for i, url in enumerate(urls):
            port = int(url.rsplit(":", 1)[1])
            try:
                eventually(lambda port=port: process_ready(port), timeout=60)  # type: ignore[misc]
            except AssertionError:
                log = (logs / f"ledger-{i}.log").read_text(errors="replace")[-4000:]
                pytest.fail(f"ledger process {i} never became ready; its log ends:\n{log}")
        yield urls
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=30)


def _drop_claims_table(store: StoreSettings) -> None:
    """An operator's mistake: the ledger's claims table is gone, so claims cannot apply."""
    if store.kind == "sqlite":
        with contextlib.closing(sqlite3.connect(str(store.sqlite_path))) as db:
            db.execute("DROP TABLE ledger_unit_claims")
        return
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'DROP TABLE "{store.pg_schema}".ledger_unit_claims')


async def _publish(bus: BusSettings, events: list[Any]) -> None:
    """Events published as a relay would, on a bus without users."""
    client = await nats.connect(bus.url)
    try:
        js = client.jetstream()
        for event in events:
            await js.publish(subject_for(event), event.model_dump_json().encode(),
                             stream=TICKETS_STREAM.name, timeout=5)  # fmt: skip
    finally:
        await client.close()


@contextlib.contextmanager
def one_wish_counted(bus: Bus, stores: dict[str, StoreSettings]) -> Iterator[TestClient]:
    """The tickets service and the ledger running, one wish posted and counted; the ledger."""
    with tickets_on(bus, stores["tickets"]) as tickets, ledger_on(bus, stores["ledger"]) as ledger:
        tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()
        assert published_head(tickets) == 1
        eventually(lambda: ledger.get("/ledger/jinfeng/c01/wishes").json().get("wishes") == 1)
        yield ledger


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_hundred_racing_retries_on_two_ledger_processes_apply_each_parked_claim_once(
    bus: BusSettings, stores: dict[str, StoreSettings], tmp_path: Path
) -> None:
    store = stores["ledger"]
    log, wish = Log(), {"wish_id": uuid.uuid4()}
    joint: dict[str, Any] = {"claim_mode": "joint", "quota": 3}
    with ledger_processes(bus, store, tmp_path) as urls:

        def get(path: str) -> Any:
            response = httpx.get(urls[0] + path, headers=AUDITOR, timeout=10)
            response.raise_for_status()
            return response.json()

        asyncio.run(_publish(bus, [
            WishPosted(**log.at(0), **wish, resident_id="p", title="饺子", category="meal",
                       **joint),
            WishVerified(**log.at(1), **wish),
        ]))  # fmt: skip
        eventually(lambda: get("/ledger/jinfeng/c01/wishes").get("by_state", {}).get("open"))
        _drop_claims_table(store)
        asyncio.run(_publish(bus, [
            WishClaimed(**log.at(2), **wish, unit_id="unit-a", claimants=1, **joint),
            WishClaimed(**log.at(3), **wish, unit_id="unit-b", claimants=2, **joint),
        ]))  # fmt: skip
        parked = eventually(lambda: len(p := get("/ops/parked")) == 2 and p)
        ids = sorted(row["id"] for row in parked)
        Database(open_datastore(store)).execute_script(WishLedger.ddl)  # the fix

        racers = 200
        start = threading.Barrier(racers)

        def retry(i: int) -> httpx.Response:
            url = f"{urls[i % 2]}/ops/parked/{ids[(i // 2) % 2]}/retry"
            start.wait()
            return httpx.post(url, headers=OPERATOR, timeout=60)

        with ThreadPoolExecutor(racers) as pool:
            responses = list(pool.map(retry, range(racers)))
        statuses = sorted({r.status_code for r in responses})
        assert set(statuses) <= {200, 404}, [r.text for r in responses if r.status_code >= 500]
        assert all(r.json() == {"applied": True, "reason": None}
                   for r in responses if r.status_code == 200)  # fmt: skip
        assert get("/ops/parked") == []
        figures = get("/ledger/jinfeng/c01/wishes")
        assert figures["claims"] == 2
        assert [(u["unit_id"], u["claims"]) for u in figures["claims_by_unit"]] == [
            ("unit-a", 1),
            ("unit-b", 1),
        ]


def test_event_ids_are_keyed_so_a_forger_cannot_take_the_next_events_id_and_its_publish(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    """With a predictable id (a plain hash of wish and version) a forger could publish first
    under the genuine event's `Nats-Msg-Id`, and JetStream dropped the genuine publish as a
    duplicate: the forged content stood, silently. Keyed ids leave the forger guessing: the
    genuine event is stored beside the forged one, and the ledger parks the conflict."""
    with (
        tickets_on(secured, stores["tickets"]) as tickets,
        ledger_on(secured, stores["ledger"]) as ledger,
    ):
        wish_id = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
        assert published_head(tickets) == 1
        predicted = uuid5(uuid5(NAMESPACE_URL, "https://shiliu.invalid/events"), f"{wish_id}:2")
        log = Log()
        log.position = log.sequence = 1
        forgery = WishVerified(**{**log.at(0), "event_id": predicted}, wish_id=uuid.UUID(wish_id))
        asyncio.run(publish_with_headers(
            secured, subject_for(forgery), forgery.model_dump_json().encode(),
            {"Nats-Msg-Id": str(predicted)},
        ))  # fmt: skip
        tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
        assert published_head(tickets) == 2

        assert len(asyncio.run(stream_sequences(secured))) == 3  # the genuine one is stored too
        [conflict] = eventually(lambda: ledger.get("/ops/parked").json())
        assert "conflicts with event" in conflict["error"]
        assert str(predicted) not in conflict["payload"]  # what was parked is the genuine one


def test_the_same_stored_event_always_gets_the_same_id_and_another_key_gives_another() -> None:
    wish = uuid.uuid4()
    ours, theirs = EventIds(b"k" * 32), EventIds(b"j" * 32)
    assert ours(wish, 3) == ours(wish, 3)
    assert len({ours(wish, 3), ours(wish, 4), theirs(wish, 3)}) == 3


async def publish_with_headers(
    bus: Bus, subject: str, payload: bytes, headers: dict[str, str]
) -> None:
    client = await bus.admin()
    try:
        await client.jetstream().publish(
            subject, payload, stream=TICKETS_STREAM.name, headers=headers, timeout=5
        )
    finally:
        await client.close()


def _genuine(bus: Bus, sequence: int) -> bytes:
    async def read() -> bytes:
        client = await bus.admin()
        try:
            message = await client.jetstream().get_msg(TICKETS_STREAM.name, sequence)
            return bytes(message.data or b"")
        finally:
            await client.close()

    return asyncio.run(read())


def test_an_altered_copy_under_a_settled_events_id_and_number_is_parked_as_a_conflict(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    with one_wish_counted(secured, stores) as ledger:
        genuine = _genuine(secured, 1)
        altered = WishPosted.model_validate_json(genuine).model_copy(update={"title": "改过"})
        subject = subject_for(altered)
        asyncio.run(publish_raw(secured, [(subject, altered.model_dump_json().encode())]))
        [conflict] = eventually(lambda: ledger.get("/ops/parked").json())
        assert "same id, other fields" in conflict["error"]
        assert "改过" in conflict["payload"]
        asyncio.run(publish_raw(secured, [(subject, genuine)]))  # a true copy
        eventually(lambda: asyncio.run(_drained(secured)))
        assert len(ledger.get("/ops/parked").json()) == 1  # the true copy is a duplicate
        assert ledger.get("/ledger/jinfeng/c01/wishes").json()["wishes"] == 1


async def _drained(bus: Bus) -> bool:
    """The ledger's wish consumer has had, and acked, every message of the stream."""
    client = await bus.admin()
    try:
        info = await client.jetstream().consumer_info(TICKETS_STREAM.name, "ledger-wishes")
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)
    finally:
        await client.close()


def test_a_forged_settled_header_does_not_let_a_parked_forgery_be_applied_by_a_retry(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    with one_wish_counted(secured, stores) as ledger:
        settled = {"Shiliu-Settled": "parked", "shiliu-settled": "parked"}
        unnumbered = forged_wish(Log(), sequence=None)
        conflicting = forged_wish(Log(), sequence=1)
        for subject, payload in [*unnumbered, *conflicting]:
            asyncio.run(publish_with_headers(secured, subject, payload, settled))
        parked = eventually(lambda: len(p := ledger.get("/ops/parked").json()) == 2 and p)
        for row in parked:
            assert not {k.lower() for k in row["headers"]} & {"shiliu-settled"}
            retried = ledger.post(f"/ops/parked/{row['id']}/retry", headers=OPERATOR)
            assert retried.json()["applied"] is False
            assert "never settled" in retried.json()["reason"]
        assert ledger.get("/ledger/jinfeng/c01/wishes").json()["wishes"] == 1


class LosesOneDuringASlowFlush:
    """The bus acknowledges the wish feed's event 2 and loses it; the flush it belongs to is
    slow (event 1 takes a while, and the relay records event 3 as published 4 s late)."""

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner

    async def publish(self, event: OutboxEvent) -> None:
        if event.feed != "tickets.wish":
            await self.inner.publish(event)
        elif event.sequence == 1:
            await self.inner.publish(event)
            await asyncio.sleep(1.5)  # meanwhile 2 and 3 are stored, and stamped together
        elif event.sequence == 3:
            await self.inner.publish(event)
            await asyncio.sleep(4.0)
        elif event.sequence != 2:
            await self.inner.publish(event)


def test_a_genuine_event_that_overtakes_a_slow_relay_flush_is_applied_not_parked_as_forged(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    with (
        tickets_on(secured, stores["tickets"]) as tickets,
        ledger_on(secured, stores["ledger"]) as ledger,
    ):
        relay = tickets.app.state.tickets.relay  # type: ignore[attr-defined]
        relay.publisher = LosesOneDuringASlowFlush(relay.publisher)
        wish_id = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
        tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
        claim = {"unit_id": "u1"}
        tickets.post(f"/wishes/{wish_id}/claims", json=claim, headers=unit("u1"))

        def claimed() -> dict[str, Any] | None:
            figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
            return figures if figures.get("claims") == 1 else None

        eventually(claimed, timeout=30)
        assert ledger.get("/ops/parked").json() == []
        gaps = ledger.get("/ops/consumer").json()["consumers"]["ledger-wishes"]["gaps"]
        assert gaps["events_repaired"] == 1


def test_a_held_forgery_deleted_from_the_stream_leaves_no_gap_open_for_good(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    """A forged number far ahead is held while the source is down, and readiness fails; the
    operator deletes it from the stream. Once the source answers that nothing lies past its
    head, the gap before the forgery closes and the ledger is ready again."""
    with tickets_on(secured, stores["tickets"]) as tickets:
        tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()
        assert published_head(tickets) == 1
    asyncio.run(publish_raw(secured, forged_wish(Log(), sequence=100)))
    with ledger_on(secured, stores["ledger"], gap_alarm_seconds=1.0) as ledger:
        eventually(lambda: ledger.get("/health/ready").json()["checks"]["gaps"] is False)
        assert ledger.get("/ops/consumer").json()["gaps"]["open"] == 1
    forgery = asyncio.run(stream_sequences(secured))[-1]
    asyncio.run(delete_messages(secured, [forgery]))
    with (
        tickets_on(secured, stores["tickets"]),
        ledger_on(secured, stores["ledger"], gap_alarm_seconds=1.0) as ledger,
    ):
        ready = eventually(lambda: (r := ledger.get("/health/ready")).status_code == 200 and r)
        assert ready.json()["open_gaps"] == []
        assert ledger.get("/ops/consumer").json()["gaps"]["open"] == 0
        assert ledger.get("/ledger/jinfeng/c01/wishes").json()["wishes"] == 1


def test_a_forgery_taking_the_next_number_fails_readiness_once_the_source_never_numbered_it(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    """A forger holding the source's bus credentials publishes the next number before the
    source does: on arrival nothing tells it from a genuine event, and it is applied. But the
    source's head, asked whenever the stream is quiet, stays behind the ledger's mark: readiness
    fails and names the feed, until the source has numbered that far (then the genuine event
    with that number is parked as a conflict, as above)."""
    with one_wish_counted(secured, stores) as ledger:
        log = Log()
        log.position = log.sequence = 1  # the source has numbered one wish event
        asyncio.run(publish_raw(secured, forged_wish(log)))
        eventually(lambda: ledger.get("/ledger/jinfeng/c01/wishes").json()["wishes"] == 2)

        def refused() -> dict[str, Any] | None:
            ready = ledger.get("/health/ready")
            return ready.json() if ready.status_code == 503 else None

        body = eventually(refused, timeout=20)
        assert body["checks"]["sources"] is False
        [(where, problem)] = [(k, v) for k, v in body["problems"].items() if "tickets.wish" in k]
        assert "applied up to 2, but the source numbered only 1" in problem, where
        status = ledger.get("/ops/consumer", headers=OPERATOR).json()
        assert status["consumers"]["ledger-wishes"]["ahead_of_source"] == {
            "tickets.wish": {"mark": 2, "source_head": 1}
        }
