"""Twenty units of a listing's capacity asked for at once, over real HTTP, on SQLite and on
PostgreSQL: exactly its capacity is reserved, and every other acceptance is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.matching.main import create_app
from services.runtime.settings import StoreSettings
from tests.conftest import OFFLINE_BUS, eventually, pg_store
from tests.support.matching import (
    STAFF,
    Feeds,
    enrolled,
    matching_settings,
    offer,
    proposals,
    unit_staff,
)
from tests.support.servers import serving

ASKED = 20
CAPACITY = 6


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSettings:
    if request.param == "postgres":
        return pg_store(request.getfixturevalue("pg_schema"))
    return StoreSettings(sqlite_path=tmp_path / "matching.sqlite")


def test_twenty_concurrent_acceptances_of_a_listing_with_capacity_six_reserve_exactly_six(
    store: StoreSettings,
) -> None:
    app = create_app(matching_settings(OFFLINE_BUS, store, relay_enabled=False))
    with serving(app) as url, httpx.Client(base_url=url, headers=STAFF) as matching:
        enrolled(matching, "unit-p")
        terms = {"category": "parking", "title": "错峰停车位", "capacity": CAPACITY}
        listing = offer(matching, "unit-p", terms)
        feeds = Feeds(app)
        for _ in range(ASKED):
            feeds.triaged_ticket(category="parking")
        found = eventually(lambda: len(proposals(matching)) == ASKED and proposals(matching))
        for match in found:
            accepted = matching.post(f"/matches/{match['match_id']}/acceptance",
                                     json={"by": "community"})  # fmt: skip
            assert accepted.status_code == 200, accepted.text

        async def race() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                return await asyncio.gather(*(
                    client.post(f"/matches/{m['match_id']}/acceptance", json={"by": "unit"},
                                headers=unit_staff("unit-p"))
                    for m in found
                ))  # fmt: skip

        responses = asyncio.run(race())
        reserved = app.state.matching.store.repository.get(UUID(listing)).reserved

        def agreed_ones() -> list[dict[str, Any]]:
            return [p for p in proposals(matching) if p["state"] == "agreed"]

        agreed = eventually(lambda: len(agreed_ones()) == CAPACITY and agreed_ones())

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * CAPACITY + [409] * (ASKED - CAPACITY)
    refusals = {r.json()["error"]["code"] for r in responses if r.status_code == 409}
    assert refusals == {"listing.full"}
    assert len(reserved) == CAPACITY
    assert sorted(m["match_id"] for m in agreed) == sorted(reserved)


def test_nine_coordinators_matching_one_ticket_by_hand_at_once_are_all_closed_with_the_ticket(
    store: StoreSettings,
) -> None:
    app = create_app(matching_settings(OFFLINE_BUS, store, relay_enabled=False,
                                       matchmaker_seconds=3600))  # fmt: skip
    with serving(app) as url, httpx.Client(base_url=url, headers=STAFF) as matching:
        app.state.matching.matchmaking.wake = lambda: None  # only the coordinators propose
        listings = []
        for number in range(9):
            enrolled(matching, f"unit-{number}")
            terms = {"category": "parking", "title": f"车位{number}", "capacity": 3}
            listings.append(offer(matching, f"unit-{number}", terms))
        feeds = Feeds(app)
        ticket = feeds.triaged_ticket(category="parking")

        async def race() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=60, headers=STAFF) as client:
                return await asyncio.gather(*(
                    client.post(f"/needs/ticket/{ticket}/matches", json={"listing_id": listing})
                    for listing in listings
                ))  # fmt: skip

        assert sorted(r.status_code for r in asyncio.run(race())) == [201] * 9
        feeds.closed_ticket(ticket)
        app.state.matching.matchmaker.follow_changes()

        def states() -> list[str]:
            return sorted(p["state"] for p in proposals(matching) if p["need_id"] == str(ticket))

        assert eventually(lambda: states() == ["closed"] * 9), states()


def test_a_ticket_wanting_one_match_agrees_one_when_its_three_units_accept_at_once(
    store: StoreSettings,
) -> None:
    app = create_app(matching_settings(OFFLINE_BUS, store, relay_enabled=False))
    with serving(app) as url, httpx.Client(base_url=url, headers=STAFF) as matching:
        for unit_id in ("unit-a", "unit-b", "unit-c"):
            enrolled(matching, unit_id)
            offer(matching, unit_id, {"category": "parking", "title": "车位", "capacity": 50})
        ticket = str(Feeds(app).triaged_ticket(category="parking"))

        def mine() -> list[dict[str, Any]]:
            return [p for p in proposals(matching) if p["need_id"] == ticket]

        found = eventually(lambda: len(mine()) == 3 and mine())
        for match in found:  # the community said yes to all three
            matching.post(f"/matches/{match['match_id']}/acceptance",
                          json={"by": "community"}).raise_for_status()  # fmt: skip

        async def race() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                return await asyncio.gather(*(
                    client.post(f"/matches/{m['match_id']}/acceptance", json={"by": "unit"},
                                headers=unit_staff(m["unit_id"]))
                    for m in found
                ))  # fmt: skip

        responses = asyncio.run(race())
        assert eventually(lambda: sorted(p["state"] for p in mine()) == ["agreed", "closed",
                                                                          "closed"])  # fmt: skip
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409, 409]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "match.need_not_open"
    }
