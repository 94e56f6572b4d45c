"""Malformed or unknown bus messages are parked where an operator sees them; nothing is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from events.topology import TICKETS_STREAM
from services.runtime.settings import BusSettings, StoreSettings
from shiliu.cli import app as cli
from tests.conftest import eventually
from tests.tickets.helpers import RESIDENT, posting

GARBAGE = [
    ("shiliu.jinfeng.c01.tickets.wish.posted", b"{not json at all"),
    ("shiliu.jinfeng.c01.tickets.wish.teleported", b'{"type": "WishTeleported", "wish_id": "x"}'),
    ("shiliu.jinfeng.c01.tickets.wish.claimed", b'{"type": "WishClaimed", "quota": "many"}'),
]


async def _publish(bus: BusSettings, messages: list[tuple[str, bytes]]) -> None:
    client = await nats.connect(bus.url)
    js = client.jetstream()
    for subject, payload in messages:
        await js.publish(subject, payload, stream=TICKETS_STREAM.name)
    await client.close()


def test_malformed_and_unknown_messages_are_parked_and_the_consumer_carries_on(
    tickets: TestClient, ledger: TestClient, bus: BusSettings, stores: dict[str, StoreSettings]
) -> None:
    asyncio.run(_publish(bus, GARBAGE))
    tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()

    parked = eventually(
        lambda: (rows := ledger.get("/ops/parked").json()) and len(rows) == 3 and rows
    )
    eventually(lambda: ledger.get("/ledger/jinfeng/c01/wishes").json().get("wishes") == 1)

    by_subject = {row["subject"]: row for row in parked}
    assert set(by_subject) == {subject for subject, _ in GARBAGE}
    assert by_subject[GARBAGE[0][0]]["payload"] == "{not json at all"
    assert "not a known wish event" in by_subject[GARBAGE[1][0]]["error"]
    assert all(row["consumer"] == "ledger-wishes" for row in parked)

    ledger_file = stores["ledger"].sqlite_path
    listing = CliRunner().invoke(
        cli, ["parked", "--data-dir", str(Path(ledger_file).parent)], env={"COLUMNS": "400"}
    )
    assert listing.exit_code == 0, listing.output
    assert "parked messages (3)" in listing.output
    assert "teleported" in listing.output


NUL_IN_ERRORS = [
    ("shiliu.jinfeng.c01.tickets.wish.posted", b'{"type": "Wish\\u0000Posted"}'),
    ("shiliu.jinfeng.c01.tickets.wish.claimed", b'{"type": "WishClaimed", "event_id": "\\u0000"}'),
]
"""Messages whose validation errors quote a NUL back: PostgreSQL text cannot hold it."""


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_message_whose_error_quotes_a_nul_is_parked_with_its_reason_and_the_rest_apply(
    tickets: TestClient, ledger: TestClient, bus: BusSettings
) -> None:
    asyncio.run(_publish(bus, NUL_IN_ERRORS))
    tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()

    parked = eventually(
        lambda: (rows := ledger.get("/ops/parked").json()) and len(rows) == 2 and rows,
        timeout=15.0,
    )
    eventually(lambda: ledger.get("/ledger/jinfeng/c01/wishes").json().get("wishes") == 1)

    by_subject = {row["subject"]: row for row in parked}
    assert "Input tag 'Wish\\x00Posted'" in by_subject[NUL_IN_ERRORS[0][0]]["error"]
    assert "event_id" in by_subject[NUL_IN_ERRORS[1][0]]["error"]
    assert "\x00" not in "".join(row["error"] for row in parked)
    assert by_subject[NUL_IN_ERRORS[0][0]]["payload"] == NUL_IN_ERRORS[0][1].decode()


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_the_parked_list_shows_the_first_4_kb_of_each_payload_and_one_message_shows_it_whole(
    ledger: TestClient, bus: BusSettings
) -> None:
    """A thousand parked 1 MB messages must not make a gigabyte answer."""
    big = b"{" + b"x" * 9_999
    asyncio.run(_publish(bus, [("shiliu.jinfeng.c01.tickets.wish.posted", big)]))

    [listed] = eventually(lambda: ledger.get("/ops/parked").json())
    assert (len(listed["payload"]), listed["payload_bytes"]) == (4096, 10_000)
    assert listed["payload_truncated"] is True
    whole = ledger.get(f"/ops/parked/{listed['id']}").json()
    assert (whole["payload"], whole["payload_truncated"]) == (big.decode(), False)
    missing = ledger.get(f"/ops/parked/{listed['id'] + 1}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ledger.parked_not_found"
