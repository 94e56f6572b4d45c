"""Exactly once in effect under real delivery faults, and convergence when the bus loses messages.

Every test runs a real nats-server (its config has an `admin` user beside the bus users, which
alone may delete messages and purge streams), the real tickets service as the source of record,
and the real ledger; faults are made on the server itself: a second consumer instance that naks,
messages deleted from the stream, a purged stream, forged and poisonous messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from eventsourcing.persistence import Notification
from fastapi.testclient import TestClient
from nats.aio.client import Client
from rich.console import Console
from typer.testing import CliRunner

from events.envelope import INT64_MAX
from events.subjects import subject_for
from events.topology import LEDGER_WISHES, TICKETS_STREAM
from events.wishes import WishClaimed, WishPosted, WishVerified
from services.ledger.main import LedgerSettings
from services.ledger.main import create_app as create_ledger
from services.ledger.projection import WishLedger
from services.runtime.database import Database, open_datastore
from services.runtime.nats_server import free_port
from services.runtime.settings import BusSettings, StoreSettings
from shiliu.cli import app as cli
from tests.conftest import eventually, pg_store
from tests.ledger.builders import Log
from tests.ledger.faults import (
    AUDITOR,
    OPERATOR,
    Bus,
    ack_pending,
    claimed_wishes,
    consumer_gaps,
    delete_messages,
    forged_wish,
    ledger_on,
    live_ledger_env,
    process_ready,
    publish_raw,
    published_head,
    purge_stream,
    stream_sequences,
    tickets_on,
    wish_ledger_matches_the_store,
)
from tests.support.tokens import auth_settings
from tests.tickets.helpers import RESIDENT, STAFF, posting, unit


def test_a_batch_nacked_by_another_instance_and_redelivered_after_later_ones_is_not_lost(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    with tickets_on(secured, stores["tickets"]) as tickets:
        claimed_wishes(tickets, 4)
        published_head(tickets)

        async def rogue_instance_takes_the_first_batch() -> tuple[Client, list[Any]]:
            client = await nats.connect(
                secured.server.url, user="ledger", password=secured.passwords["ledger"],
                inbox_prefix="_INBOX_ledger",
            )  # fmt: skip
            js = client.jetstream()
            sub = await js.pull_subscribe_bind(LEDGER_WISHES.durable, LEDGER_WISHES.stream)
            return client, await sub.fetch(5, timeout=5)

        loop = asyncio.new_event_loop()
        client, first = loop.run_until_complete(rogue_instance_takes_the_first_batch())
        assert [m.metadata.sequence.stream for m in first] == [1, 2, 3, 4, 5]
        with ledger_on(secured, stores["ledger"], gap_grace_seconds=5.0) as ledger:
            eventually(lambda: asyncio.run(ack_pending(secured)) == 12)  # it holds 6..12
            assert ledger.get("/ops/consumer").json()["applied"] == 0
            for message in first:  # the other instance's batch failed: nak, after later ones
                loop.run_until_complete(message.nak())
            loop.run_until_complete(client.close())
            loop.close()
            wish_ledger_matches_the_store(ledger, tickets, 4)
            gaps = consumer_gaps(ledger)  # on record when found, closed by the redelivery itself
            assert (gaps["detected"], gaps["open"], gaps["events_repaired"]) == (1, 0, 0)
            assert ledger.get("/ops/parked").json() == []


def test_messages_deleted_before_the_ledger_read_them_are_fetched_from_the_source(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    with tickets_on(secured, stores["tickets"]) as tickets:
        claimed_wishes(tickets, 5)
        published_head(tickets)
        sequences = asyncio.run(stream_sequences(secured))
        lost = [sequences[1], sequences[2], sequences[7], sequences[-1]]  # middle and tail
        asyncio.run(delete_messages(secured, lost))
        with ledger_on(secured, stores["ledger"]) as ledger:
            wish_ledger_matches_the_store(ledger, tickets, 5)
            gaps = eventually(lambda: (g := consumer_gaps(ledger))["repaired"] >= 2 and g)
            assert gaps["open"] == 0
            assert gaps["events_repaired"] == len(lost)
            ready = ledger.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["gaps"]["repaired"] == gaps["repaired"]


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_gap_the_stopped_source_cannot_fill_is_on_record_at_once_and_fails_readiness_until_filled(
    secured: Bus, stores: dict[str, StoreSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    with tickets_on(secured, stores["tickets"]) as tickets:
        claimed_wishes(tickets, 3)
        published_head(tickets)
    # the tickets service is stopped: nothing answers its replay requests
    sequences = asyncio.run(stream_sequences(secured))
    asyncio.run(delete_messages(secured, sequences[1:3]))
    with ledger_on(secured, stores["ledger"], gap_alarm_seconds=1.0) as ledger:

        def holding() -> dict[str, Any] | None:
            status = ledger.get("/ops/consumer").json()
            return status if status["consumers"]["ledger-wishes"]["held"] > 0 else None

        status = eventually(holding)
        wishes = status["consumers"]["ledger-wishes"]
        [gap] = wishes["open_gaps"]
        assert gap["feed"] == "tickets.wish"
        assert gap["after"] == wishes["marks"]["tickets.wish"]
        assert gap["until"] == gap["after"] + 2
        assert gap["detected_at"]
        assert status["gaps"]["open"] == 1
        assert status["held"] == wishes["held"]

        def gap_alarm() -> Any:  # not ready for the gap (not a loop still starting)
            r = ledger.get("/health/ready")
            return r.status_code == 503 and r.json()["checks"]["gaps"] is False and r

        body = eventually(gap_alarm).json()
        assert body["checks"]["loops"] is True  # the loops work; the gap is the reason
        assert "missing" in body["problems"]["ledger-wishes tickets.wish"]
        assert body["held"] > 0

        monkeypatch.setattr("shiliu.cli.console", Console(width=400))
        monkeypatch.setattr(
            "shiliu.cli._get_json",
            lambda url, _: ledger.get("/ops/consumer").json() if "/ops/consumer" in url else None,
        )
        shown = CliRunner().invoke(
            cli, ["status", "--nats-url", secured.server.url, "--data-dir", str(secured.data_dir)]
        )
        assert shown.exit_code == 0, shown.output
        assert f"held messages (ledger, waiting behind a gap): {body['held']}" in shown.output
        assert f"open gap ledger-wishes tickets.wish: events {gap['after'] + 1}.." in shown.output
        assert "1 open" in shown.output

        with tickets_on(secured, stores["tickets"]) as tickets:  # the source is back
            wish_ledger_matches_the_store(ledger, tickets, 3)
            gaps = eventually(lambda: (g := consumer_gaps(ledger))["open"] == 0 and g)
            assert (gaps["detected"], gaps["repaired"], gaps["events_repaired"]) == (1, 1, 2)
            ready = eventually(lambda: (r := ledger.get("/health/ready")).status_code == 200 and r)
            assert ready.json()["held"] == 0
            assert ready.json()["open_gaps"] == []


def test_a_purged_stream_heals_from_the_source_and_a_rebuild_from_the_sources_equals_it(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    with tickets_on(secured, stores["tickets"]) as tickets:
        claimed_wishes(tickets, 3)
        with ledger_on(secured, stores["ledger"]) as ledger:
            wish_ledger_matches_the_store(ledger, tickets, 3)
        asyncio.run(purge_stream(secured))  # consumed and unconsumed alike
        claimed_wishes(tickets, 2)
        published_head(tickets)
        asyncio.run(purge_stream(secured))
        with ledger_on(secured, stores["ledger"]) as ledger:
            wish_ledger_matches_the_store(ledger, tickets, 5)
            # counted once the repair's last page settled, just after the ledger matches
            eventually(lambda: consumer_gaps(ledger)["events_repaired"] == 6)
        rebuilt = CliRunner().invoke(
            cli,
            ["rebuild-ledger", "--nats-url", secured.server.url, "--data-dir",
             str(secured.data_dir), "--into", str(secured.data_dir / "rebuilt.sqlite")],
            env=live_ledger_env(stores["ledger"]),
        )  # fmt: skip
        assert rebuilt.exit_code == 0, rebuilt.output
        assert "rebuild equals the live ledger" in rebuilt.output
        from_stream = CliRunner().invoke(
            cli,
            ["rebuild-ledger", "--from", "stream", "--nats-url", secured.server.url,
             "--data-dir", str(secured.data_dir)],
            env=live_ledger_env(stores["ledger"]),
        )  # fmt: skip
        assert from_stream.exit_code == 1  # the stream lost them: the check says so
        assert "tickets.wish: 15 events the live ledger has are missing" in from_stream.output


@pytest.mark.postgres
def test_a_rebuild_from_the_sources_equals_the_live_ledger_on_postgresql(
    secured: Bus, pg_schema: str
) -> None:
    tickets_store, ledger_store = pg_store(pg_schema), pg_store(pg_schema + "_l")
    with tickets_on(secured, tickets_store) as tickets:
        claimed_wishes(tickets, 3)
        with ledger_on(secured, ledger_store) as ledger:
            wish_ledger_matches_the_store(ledger, tickets, 3)
            claimed_wishes(tickets, 2)  # the live ledger keeps working during the rebuild
            rebuilt = CliRunner().invoke(
                cli,
                ["rebuild-ledger", "--nats-url", secured.server.url, "--data-dir",
                 str(secured.data_dir)],
                env=live_ledger_env(ledger_store),
            )  # fmt: skip
            assert rebuilt.exit_code == 0, rebuilt.output
            assert "rebuild equals the live ledger" in rebuilt.output
            assert f"into {pg_schema}_l_rebuild" in rebuilt.output


def test_forged_numbers_near_2_to_the_63_are_parked_and_later_events_still_count(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    with tickets_on(secured, stores["tickets"]) as tickets:
        claimed_wishes(tickets, 1)
        published_head(tickets)
        too_big = forged_wish(Log(), sequence=1, position=INT64_MAX)
        too_big[0] = (
            too_big[0][0],
            too_big[0][1].replace(
                b'"position":9223372036854775807', b'"position":9223372036854775808'
            ),
        )
        forged = [*forged_wish(Log(), sequence=INT64_MAX), *too_big]
        asyncio.run(publish_raw(secured, forged))
        claimed_wishes(tickets, 2)
        with ledger_on(secured, stores["ledger"]) as ledger:
            wish_ledger_matches_the_store(ledger, tickets, 3)
            parked = eventually(lambda: len(p := ledger.get("/ops/parked").json()) == 2 and p)
            errors = sorted(row["error"] for row in parked)
            assert "less than or equal to 9223372036854775807" in errors[0]
            assert "numbered past its source's head" in errors[1]
            status = ledger.get("/ops/consumer").json()
            assert status["parked"] == 2


def test_a_forged_event_taking_the_next_number_is_caught_when_the_genuine_one_arrives(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    """Bus permissions keep a forger out; one who gets in is not silent: the genuine event's
    number is already settled by another event id, and that conflict is parked."""
    with (
        tickets_on(secured, stores["tickets"]) as tickets,
        ledger_on(secured, stores["ledger"]) as ledger,
    ):
        tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()
        assert published_head(tickets) == 1
        eventually(lambda: ledger.get("/ledger/jinfeng/c01/wishes").json().get("wishes") == 1)
        log = Log()
        log.position = log.sequence = 1
        asyncio.run(publish_raw(secured, forged_wish(log)))  # number 2, before the source's own
        eventually(lambda: ledger.get("/ledger/jinfeng/c01/wishes").json().get("wishes") == 2)
        tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()

        [conflict] = eventually(lambda: ledger.get("/ops/parked").json())
        assert "conflicts with event" in conflict["error"]
        assert "number 2 of tickets.wish" in conflict["error"]
        assert ledger.get("/health/ready").json()["parked"] == 1


@pytest.mark.postgres
def test_a_poison_event_in_the_middle_of_a_batch_is_parked_alone_and_the_rest_apply(
    secured: Bus, pg_schema: str
) -> None:
    """On PostgreSQL a NUL in a text column fails for real inside the transaction. The
    poisoned wish's later event waits behind it; another wish's events apply."""
    log = Log()
    poisoned, healthy = {"wish_id": uuid.uuid4()}, {"wish_id": uuid.uuid4()}
    joint: dict[str, Any] = {"claim_mode": "joint", "quota": 3}
    events = [
        WishPosted(**log.at(0), **poisoned, resident_id="p", title="饺子", category="meal",
                   **joint),
        WishPosted(**log.at(1), **healthy, resident_id="q", title="夜路", category="other",
                   **joint),
        WishVerified(**log.at(2), **poisoned),
        WishVerified(**log.at(3), **healthy),
        WishClaimed(**log.at(4), **poisoned, unit_id="unit\x00evil", claimants=1, **joint),
        WishClaimed(**log.at(5), **healthy, unit_id="unit-b", claimants=1, **joint),
        WishClaimed(**log.at(6), **poisoned, unit_id="unit-b", claimants=2, **joint),
    ]  # fmt: skip
    asyncio.run(publish_raw(secured, [(subject_for(e), e.model_dump_json().encode())
                                       for e in events]))  # fmt: skip
    with ledger_on(secured, pg_store(pg_schema)) as ledger:
        status = eventually(
            lambda: (
                (s := ledger.get("/ops/consumer").json())["consumers"]["ledger-wishes"][
                    "marks"
                ].get("tickets.wish")
                == 7
                and s
            )
        )
        assert status["consumers"]["ledger-wishes"]["applied"] == 5
        poison, behind = sorted(ledger.get("/ops/parked").json(), key=lambda p: p["id"])
        assert "could not be applied" in poison["error"]
        assert "unit\\u0000evil" in poison["payload"]
        assert "waits behind" in behind["error"]
        figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
        assert (figures["wishes"], figures["claims"]) == (2, 1)
        assert figures["by_state"] == {**figures["by_state"], "open": 1, "claimed": 1}
        assert [(u["unit_id"], u["claims"]) for u in figures["claims_by_unit"]] == [("unit-b", 1)]


def test_two_ledger_processes_on_one_durable_consumer_apply_thousands_of_events_once(
    bus: BusSettings, tmp_path: Path
) -> None:
    store, port = tmp_path / "ledger.sqlite", free_port()
    env = {**os.environ, "SHILIU_LEDGER_STORE__SQLITE_PATH": str(store),
           "SHILIU_LEDGER_BUS__URL": bus.url, "SHILIU_LEDGER_PORT": str(port),
           "SHILIU_LEDGER_GAP_GRACE_SECONDS": "30", "SHILIU_LEDGER_BATCH_SIZE": "50"}  # fmt: skip
    other = subprocess.Popen(
        [str(Path(sys.executable).parent / "shiliu"), "serve", "ledger"],
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "other.log").open("wb"),
    )  # fmt: skip
    try:
        eventually(lambda: process_ready(port), timeout=60)
        log = Log()
        events = [
            WishPosted(**log.at(i / 100), wish_id=uuid.uuid4(), resident_id="p", title="饺子",
                       category="meal", claim_mode="exclusive", quota=1)
            for i in range(3000)
        ]  # fmt: skip
        asyncio.run(_publish_pipelined(bus, events))
        settings = LedgerSettings(
            store=StoreSettings(sqlite_path=store), bus=bus, auth=auth_settings(),
            gap_grace_seconds=30, batch_size=50,
        )  # fmt: skip
        with TestClient(create_ledger(settings), headers=AUDITOR) as ledger:

            def marks() -> int:
                status = ledger.get("/ops/consumer").json()["consumers"]["ledger-wishes"]
                return int(status["marks"].get("tickets.wish", 0))

            eventually(lambda: marks() == 3000, timeout=120)
            status = ledger.get("/ops/consumer").json()
            assert status["consumers"]["ledger-wishes"]["applied"] < 3000  # the other did some
            assert status["parked"] == 0
            figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
            assert figures["wishes"] == 3000
            assert other.poll() is None  # both instances ran throughout
    finally:
        other.kill()
        other.wait(timeout=30)


async def _publish_pipelined(bus: BusSettings, events: list[WishPosted]) -> None:
    client = await nats.connect(bus.url)
    try:
        js = client.jetstream()
        for start in range(0, len(events), 200):
            await asyncio.gather(*(
                js.publish(subject_for(e), e.model_dump_json().encode(),
                           stream=TICKETS_STREAM.name, timeout=10)
                for e in events[start : start + 200]
            ))  # fmt: skip
    finally:
        await client.close()


def _open_wish_then_claims_table_dropped(
    tickets: TestClient, ledger: TestClient, ledger_file: str
) -> str:
    """An open wish the ledger has seen; then the claims table is gone (an operator's mistake,
    say), so the wish's claim cannot be applied until it is back."""
    wish_id = str(tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"])
    tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
    eventually(
        lambda: ledger.get("/ledger/jinfeng/c01/wishes").json().get("by_state", {}).get("open")
    )
    with contextlib.closing(sqlite3.connect(ledger_file)) as db:
        db.execute("DROP TABLE ledger_unit_claims")
    return wish_id


def test_an_event_parked_because_its_table_was_gone_applies_once_when_retried_after_the_fix(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    ledger_file = str(stores["ledger"].sqlite_path)
    with (
        tickets_on(secured, stores["tickets"]) as tickets,
        ledger_on(secured, stores["ledger"]) as ledger,
    ):
        wish_id = _open_wish_then_claims_table_dropped(tickets, ledger, ledger_file)
        claim = {"unit_id": "u1"}
        tickets.post(f"/wishes/{wish_id}/claims", json=claim, headers=unit("u1"))
        [parked] = eventually(lambda: ledger.get("/ops/parked").json())
        assert "no such table" in parked["error"]
        claimed_wishes(tickets, 1)  # the feed goes on past the parked event
        eventually(
            lambda: (
                ledger.get("/ops/consumer").json()["consumers"]["ledger-wishes"]["marks"]
                == {"tickets.wish": 6}
            )
        )

        refused = ledger.post(f"/ops/parked/{parked['id']}/retry", headers=OPERATOR)
        assert refused.json() == {"applied": False, "reason": refused.json()["reason"]}
        assert "no such table" in refused.json()["reason"]
        Database(open_datastore(stores["ledger"])).execute_script(WishLedger.ddl)  # the fix
        both = [row["id"] for row in ledger.get("/ops/parked").json()]  # the other wish's claim
        assert len(both) == 2
        for parked_id in both:
            retried = ledger.post(f"/ops/parked/{parked_id}/retry", headers=OPERATOR)
            assert retried.json() == {"applied": True, "reason": None}
            assert (
                ledger.post(f"/ops/parked/{parked_id}/retry", headers=OPERATOR).status_code == 404
            )
        assert ledger.get("/ops/parked").json() == []
        figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
        assert (figures["wishes"], figures["claims"], figures["by_state"]["claimed"]) == (2, 2, 2)
        assert sorted(u["unit_id"] for u in figures["claims_by_unit"]) == ["c01-u0", "u1"]


def test_a_parked_event_holds_back_its_wishs_later_events_and_a_retry_applies_them_in_order(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    ledger_file = str(stores["ledger"].sqlite_path)
    with (
        tickets_on(secured, stores["tickets"]) as tickets,
        ledger_on(secured, stores["ledger"]) as ledger,
    ):
        wish_id = _open_wish_then_claims_table_dropped(tickets, ledger, ledger_file)
        claim = {"unit_id": "u1"}
        tickets.post(f"/wishes/{wish_id}/claims", json=claim, headers=unit("u1")).raise_for_status()
        tickets.post(
            f"/wishes/{wish_id}/fulfilment", json=claim, headers=unit("u1")
        ).raise_for_status()
        other = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
        tickets.post(f"/wishes/{other}/verification", headers=STAFF).raise_for_status()

        def settled() -> list[dict[str, Any]] | None:
            marks = ledger.get("/ops/consumer").json()["consumers"]["ledger-wishes"]["marks"]
            return ledger.get("/ops/parked").json() if marks == {"tickets.wish": 6} else None

        claim_parked, fulfilment_parked = sorted(eventually(settled), key=lambda p: p["id"])
        assert "no such table" in claim_parked["error"]
        assert "waits behind" in fulfilment_parked["error"]
        with contextlib.closing(sqlite3.connect(ledger_file)) as db:
            states = db.execute("SELECT state FROM ledger_wishes").fetchall()
        assert states == [("open",), ("open",)]  # the fulfilment did not go around the claim

        Database(open_datastore(stores["ledger"])).execute_script(WishLedger.ddl)  # the fix
        retried = ledger.post(f"/ops/parked/{fulfilment_parked['id']}/retry", headers=OPERATOR)
        assert retried.json() == {"applied": True, "reason": None}
        assert ledger.get("/ops/parked").json() == []
        figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
        assert (figures["wishes"], figures["claims"]) == (2, 1)
        assert (figures["by_state"]["open"], figures["by_state"]["fulfilment_reported"]) == (1, 1)


def _claims_fail_to_translate(tickets: TestClient) -> Callable[[], None]:
    """A translator bug: every claim raises. Returns the fix."""
    outbox = tickets.app.state.tickets.outbox  # type: ignore[attr-defined]
    working = outbox.translate

    def buggy(notification: Notification) -> Any:
        if notification.topic.endswith("Claimed"):
            raise RuntimeError("translator bug")
        return working(notification)

    outbox.translate = buggy
    return lambda: setattr(outbox, "translate", working)


def test_a_claim_the_relay_could_not_translate_holds_back_its_wish_and_goes_out_in_order_on_retry(
    secured: Bus, stores: dict[str, StoreSettings]
) -> None:
    with (
        tickets_on(secured, stores["tickets"]) as tickets,
        ledger_on(secured, stores["ledger"]) as ledger,
    ):
        wish_id = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
        tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
        fix = _claims_fail_to_translate(tickets)
        claim = {"unit_id": "u1"}
        tickets.post(f"/wishes/{wish_id}/claims", json=claim, headers=unit("u1")).raise_for_status()
        tickets.post(
            f"/wishes/{wish_id}/fulfilment", json=claim, headers=unit("u1")
        ).raise_for_status()
        other = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
        tickets.post(f"/wishes/{other}/verification", headers=STAFF).raise_for_status()

        assert published_head(tickets) == 4  # the other wish went on; this one waits
        held, failed = tickets.get("/ops/relay/parked").json()  # newest first
        assert (failed["stage"], held["stage"]) == ("translate", "held")
        assert "translator bug" in failed["error"]
        fix()

        secured.server.stop()  # the bus refuses the retry for now: nothing is lost
        refused = tickets.post(f"/ops/relay/parked/{held['id']}/retry")
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "relay.bus_unavailable"
        still = tickets.get("/ops/relay/parked").json()
        assert {p["id"] for p in still} == {held["id"], failed["id"]}
        assert {p["sequence"] for p in still} == {5, 6}  # numbered in order, waiting to go out
        secured.server.start()

        retried = eventually(
            lambda: (
                (r := tickets.post(f"/ops/relay/parked/{held['id']}/retry")).status_code == 200
                and r.json()
            )
        )
        assert retried == {"published": True}
        assert tickets.get("/ops/relay/parked").json() == []

        def converged() -> dict[str, Any] | None:
            # the claim and the fulfilment report may reach the ledger in two batches
            figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
            reported = figures.get("by_state", {}).get("fulfilment_reported")
            return figures if (figures.get("claims"), reported) == (1, 1) else None

        figures = eventually(converged, timeout=30)
        assert figures["wishes"] == 2
        assert (figures["by_state"]["open"], figures["by_state"]["fulfilment_reported"]) == (1, 1)
