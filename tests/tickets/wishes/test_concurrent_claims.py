"""Claim races on one exclusive wish: exactly one winner, every loser answered and recorded."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from events.wishes import ClaimMode, WishCategory
from services.runtime.commands import Caller
from services.runtime.database import eventsourcing_env, prepare_store
from services.runtime.place import Place
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import create_app
from services.tickets.store import TicketsStore
from services.tickets.wishes.application import ClaimRefusedError, WishDesk
from tests.conftest import demo_store, eventually, tickets_settings
from tests.support.servers import serving
from tests.support.units import enrol, roster_on
from tests.tickets.helpers import RESIDENT, STAFF, posting, unit

CLAIMS = 50


def _topics(store: TicketsStore) -> list[str]:
    return [n.topic.rsplit(".", 1)[-1] for n in store.recorder.select_notifications(1, 10_000)]


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_fifty_concurrent_claims_on_an_exclusive_wish_give_one_winner_and_49_recorded_refusals(
    bus: BusSettings, stores: dict[str, StoreSettings], ledger: TestClient
) -> None:
    app = create_app(tickets_settings(bus, stores["tickets"]))
    with serving(app) as url:
        enrol(app.state.tickets.units, [f"unit-{i}" for i in range(CLAIMS)])
        with httpx.Client(base_url=url) as client:
            wish_id = client.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
            client.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()

        async def race() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                return await asyncio.gather(*(
                    client.post(f"/wishes/{wish_id}/claims", json={"unit_id": f"unit-{i}"},
                                headers=unit(f"unit-{i}"))
                    for i in range(CLAIMS)
                ))  # fmt: skip

        responses = asyncio.run(race())
        topics = _topics(app.state.tickets.store)

    won = [r for r in responses if r.status_code == 201]
    lost = [r for r in responses if r.status_code == 409]
    assert (len(won), len(lost)) == (1, CLAIMS - 1)
    winner = won[0].json()["wish"]["claimants"]
    assert len(winner) == 1
    for response in lost:
        error = response.json()["error"]
        assert error["code"] == "wish.claim_refused"
        assert error["claimants"] == winner
        assert error["reason"] == "already_claimed"

    assert topics.count("Claimed") == 1
    assert topics.count("ClaimRefused") == CLAIMS - 1

    def refusals_in_ledger() -> bool:
        figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
        return bool(figures["claims"] == 1 and figures["refused_claims"] == CLAIMS - 1)

    eventually(refusals_in_ledger)


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_processes_racing_on_one_store_still_give_exactly_one_winner(
    stores: dict[str, StoreSettings], tmp_path: Path
) -> None:
    """Two applications on one store stand in for two processes: no shared in-memory lock."""
    prepare_store(stores["tickets"])
    env = eventsourcing_env(stores["tickets"])
    twins = [demo_store(env) for _ in range(2)]
    racers = [f"unit-{i}" for i in range(CLAIMS)]
    boards = [WishDesk.on(twin, roster_on(twin, racers)) for twin in twins]
    try:
        staff = Caller("staff-1", "community_staff")
        posted = boards[0].post_wish(
            Caller("resident-1", "resident"), place=Place("jinfeng", "s01", "c01"),
            resident_id="p1", title="一台买菜用的公共三轮车", category=WishCategory.GOODS,
            claim_mode=ClaimMode.EXCLUSIVE, quota=1,
        )  # fmt: skip
        boards[0].verify_wish(staff, posted.wish.id)

        def claim(i: int) -> str:
            try:
                boards[i % 2].claim_wish(Caller(f"u{i}", "unit_staff"), posted.wish.id, f"unit-{i}")
            except ClaimRefusedError:
                return "refused"
            return "won"

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(claim, range(CLAIMS)))
        assert results.count("won") == 1
        assert results.count("refused") == CLAIMS - 1
        topics = _topics(twins[1])
        assert (topics.count("Claimed"), topics.count("ClaimRefused")) == (1, CLAIMS - 1)
    finally:
        for twin in twins:
            twin.close()
