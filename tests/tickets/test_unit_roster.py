"""Who may claim a community's wishes: the units the registry enrolled, as the tickets
service's roster learned them. A claim by any other unit is a 422 naming `unit_id`, and
nothing is stored for it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient

from events.envelope import Territory
from events.topology import MATCHING_STREAM
from events.units import DepartureReason, UnitLeftAlliance, UnitReinstated
from services.runtime.settings import BusSettings
from tests.conftest import eventually
from tests.support.matrix import new_wish
from tests.support.units import enrol, enrolment, envelope
from tests.tickets.helpers import unit

C01 = Territory(district="jinfeng", street="s01", community="c01")


def _claim(tickets: TestClient, wish_id: str, unit_id: str) -> Any:
    return tickets.post(f"/wishes/{wish_id}/claims", json={"unit_id": unit_id},
                        headers=unit(unit_id))  # fmt: skip


def _refusal(response: Any) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["fields"][0]["field"]


def _roster(tickets: TestClient) -> Any:
    return tickets.app.state.tickets.units  # type: ignore[attr-defined]


def test_a_unit_the_registry_never_enrolled_is_refused_and_nothing_is_stored(
    tickets: TestClient,
) -> None:
    wish_id = new_wish(tickets, "open")
    store = tickets.app.state.tickets.store  # type: ignore[attr-defined]
    before = store.recorder.max_notification_id()
    refused = _claim(tickets, wish_id, "unit-made-up")
    assert _refusal(refused) == (422, "unit.unknown", "body.unit_id")
    assert store.recorder.max_notification_id() == before
    assert tickets.get(f"/wishes/{wish_id}").json()["state"] == "open"


def test_a_unit_of_another_community_or_one_that_left_is_not_in_this_alliance(
    tickets: TestClient,
) -> None:
    roster = _roster(tickets)
    enrol(roster, ["unit-c02-9"], community="c02", street="s01")
    wish_id = new_wish(tickets, "open")
    assert _refusal(_claim(tickets, wish_id, "unit-c02-9"))[:2] == (422, "unit.not_in_alliance")
    enrol(roster, ["unit-gone"])
    mark = roster.intake.marks()["matching.unit"]
    left = UnitLeftAlliance.model_validate(
        {**envelope("unit-gone", C01, mark + 1), "reason": DepartureReason.MOVED_AWAY}
    )
    roster.apply([left])
    assert _refusal(_claim(tickets, wish_id, "unit-gone"))[:2] == (422, "unit.not_in_alliance")


def test_a_suspended_unit_is_refused_until_it_is_reinstated(tickets: TestClient) -> None:
    roster = _roster(tickets)
    enrol(roster, ["unit-s"], suspended=True)
    wish_id = new_wish(tickets, "open")
    assert _refusal(_claim(tickets, wish_id, "unit-s"))[:2] == (422, "unit.suspended")
    mark = roster.intake.marks()["matching.unit"]
    roster.apply([UnitReinstated.model_validate(envelope("unit-s", C01, mark + 1))])
    assert _claim(tickets, wish_id, "unit-s").status_code == 201


def test_registry_events_delivered_twice_or_out_of_order_change_the_roster_once(
    tickets: TestClient,
) -> None:
    roster = _roster(tickets)
    mark = roster.intake.marks()["matching.unit"]
    registered, joined, suspended = enrolment(["unit-late"], after=mark, where=C01, suspended=True)
    assert roster.apply([suspended, registered]) == 1  # the suspension waits for its turn
    assert roster.apply([joined, suspended, registered]) == 2
    assert roster.apply([registered, joined, suspended]) == 0
    wish_id = new_wish(tickets, "open")
    assert _refusal(_claim(tickets, wish_id, "unit-late"))[:2] == (422, "unit.suspended")
    assert roster.parking.count() == 0


@pytest.mark.real_registry
def test_a_malformed_registry_message_on_the_bus_is_parked_where_an_operator_sees_it(
    tickets: TestClient, bus: BusSettings
) -> None:
    async def publish() -> None:
        client = await nats.connect(bus.url)
        try:
            js = client.jetstream()
            await js.publish("shiliu.jinfeng.c01.matching.unit.registered", b'{"type": "Unit',
                             stream=MATCHING_STREAM.name, timeout=5,
                             headers={"Nats-Msg-Id": str(uuid.uuid4())})  # fmt: skip
        finally:
            await client.close()

    asyncio.run(publish())
    parked = eventually(lambda: tickets.get("/health/ready").json()["units"]["parked"] == 1)
    assert parked
