"""Matching end to end over a real nats-server, each service as its own bus user: a wish
posted and opened in tickets gets ranked proposals in matching; the unit claims it in
tickets; matching agrees the claimant's proposal and closes the others, and every match event
is on matching's stream. A wish event deleted from the bus is fetched from the source."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from events.envelope import Actor, Role, Territory
from events.subjects import subject_for
from events.topology import MATCHING_STREAM, TICKETS_STREAM
from events.wishes import WishVerified
from services.matching.main import create_app as create_matching
from services.runtime.settings import StoreSettings
from services.tickets.main import create_app as create_tickets
from tests.conftest import eventually, tickets_settings
from tests.ledger.faults import OPERATOR, Bus, publish_raw
from tests.support.matching import STAFF as MATCHING_STAFF
from tests.support.matching import enrolled, matching_settings, offer, proposals_for
from tests.tickets.helpers import RESIDENT, STAFF, posting, unit

pytestmark = pytest.mark.real_registry
MEALS = {"category": "meals", "title": "爱心午餐", "capacity": 10}


@contextlib.contextmanager
def matching_on(bus: Bus, tmp_path: Path) -> Iterator[TestClient]:
    store = StoreSettings(sqlite_path=tmp_path / "matching.sqlite")
    app = create_matching(matching_settings(bus.as_user("matching"), store))
    with TestClient(app, headers=MATCHING_STAFF) as client:
        yield client


@contextlib.contextmanager
def tickets_on(bus: Bus, tmp_path: Path) -> Iterator[TestClient]:
    store = StoreSettings(sqlite_path=tmp_path / "tickets.sqlite")
    app = create_tickets(tickets_settings(bus.as_user("tickets"), store))
    with TestClient(app, headers=OPERATOR) as client:
        yield client


def _open_wish(tickets: TestClient) -> str:
    wish_id: str = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
    tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
    return wish_id


async def _subjects(bus: Bus, stream: str) -> list[str]:
    client = await bus.admin()
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        found = []
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            with contextlib.suppress(Exception):  # a deleted message
                found.append(str((await js.get_msg(stream, sequence)).subject))
        return found
    finally:
        await client.close()


def test_a_wish_opened_in_tickets_is_matched_claimed_there_and_its_other_proposals_closed(
    secured: Bus, tmp_path: Path
) -> None:
    with matching_on(secured, tmp_path) as matching, tickets_on(secured, tmp_path) as tickets:
        for unit_id in ("unit-a", "unit-b"):
            enrolled(matching, unit_id)
            offer(matching, unit_id, MEALS)
        wish_id = _open_wish(tickets)
        found = eventually(lambda: len(mine := proposals_for(matching, wish_id)) == 2 and mine,
                           timeout=20)  # fmt: skip
        assert all(p["reasons"] for p in found)
        claimed = eventually(lambda: tickets.post(
            f"/wishes/{wish_id}/claims", json={"unit_id": "unit-b"}, headers=unit("unit-b")
        ).status_code == 201, timeout=20)  # fmt: skip
        assert claimed

        def states() -> dict[str, str]:
            return {p["unit_id"]: p["state"] for p in proposals_for(matching, wish_id)}

        assert eventually(lambda: states() == {"unit-a": "closed", "unit-b": "agreed"}, timeout=20)
        subjects = eventually(lambda: (s := asyncio.run(_subjects(secured, MATCHING_STREAM.name)))
                              and "matching.match.closed" in " ".join(s) and s)  # fmt: skip
    kinds = {subject.split(".", 3)[3] for subject in subjects}
    assert {"matching.match.proposed", "matching.match.accepted", "matching.match.closed",
            "matching.unit.registered", "matching.listing.published"} <= kinds  # fmt: skip


def test_a_wish_event_deleted_from_the_bus_is_fetched_from_tickets_and_the_wish_still_matched(
    secured: Bus, tmp_path: Path
) -> None:
    with tickets_on(secured, tmp_path) as tickets:
        wish_id = _open_wish(tickets)
        eventually(lambda: tickets.get("/ops/relay").json()["lag"] == 0)
    subjects = asyncio.run(_subjects(secured, TICKETS_STREAM.name))
    posted = subjects.index(next(s for s in subjects if s.endswith("wish.posted"))) + 1

    async def delete() -> None:
        client = await secured.admin()
        try:
            await client.jetstream().delete_msg(TICKETS_STREAM.name, posted)
        finally:
            await client.close()

    asyncio.run(delete())
    with tickets_on(secured, tmp_path), matching_on(secured, tmp_path) as matching:
        enrolled(matching, "unit-a")
        offer(matching, "unit-a", MEALS)
        assert eventually(lambda: proposals_for(matching, wish_id), timeout=30)
        feeds = matching.get("/health/ready").json()["feeds"]
        assert feeds["matching-wishes"]["marks"]["tickets.wish"] == 2


def test_a_malformed_wish_message_is_parked_where_an_operator_sees_it_and_matching_goes_on(
    secured: Bus, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    sample = WishVerified(
        event_id=uuid4(), occurred_at=now, recorded_at=now, source="tickets", position=1,
        sequence=1, territory=Territory(district="jinfeng", street="s01", community="c01"),
        actor=Actor(id="staff-1", role=Role.COMMUNITY_STAFF), wish_id=uuid4(),
    )  # fmt: skip
    with matching_on(secured, tmp_path) as matching, tickets_on(secured, tmp_path) as tickets:
        asyncio.run(publish_raw(secured, [(subject_for(sample), b'{"type": "WishVerified"')]))
        [parked] = eventually(lambda: matching.get("/ops/parked", headers=OPERATOR).json())
        assert parked["consumer"] == "matching-wishes"
        whole = matching.get(f"/ops/parked/{parked['id']}", headers=OPERATOR).json()
        assert whole["payload"].startswith('{"type": "WishVerified"')
        retried = matching.post(f"/ops/parked/{parked['id']}/retry", headers=OPERATOR).json()
        assert retried["applied"] is False
        assert "never settled" in retried["reason"]
        enrolled(matching, "unit-a")
        offer(matching, "unit-a", MEALS)
        wish_id = _open_wish(tickets)
        assert eventually(lambda: proposals_for(matching, wish_id), timeout=20)
        assert matching.get("/ops/parked", headers=MATCHING_STAFF).status_code == 403
