"""What the adversarial review of matching found, each held by a test: who answers for which
side of a match, needs that fill, change category or go while a coordinator matches by hand,
a unit that would serve itself, proposals past their time, and the page's bad form values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from services.matching.main import create_app
from tests.conftest import OFFLINE_BUS, MovableClock, eventually, memory_store
from tests.support.matching import (
    C09_STAFF,
    STAFF,
    Feeds,
    enrolled,
    matching_settings,
    offer,
    proposals_for,
    unit_staff,
)
from tests.support.tokens import bearer

PARKING = {"category": "parking", "title": "错峰停车位", "capacity": 6}


def _c09_proposal(matching: TestClient, unit_id: str | None) -> str:
    """A street-reach parking offer of c01 (a unit's, or c01's own) proposed for a c09 ticket."""
    offer(matching, unit_id, {**PARKING, "reach": "street"})
    ticket = Feeds(matching).triaged_ticket(category="parking", community="c09")

    def found() -> list[dict[str, Any]]:
        listed = matching.get("/matches", params={"district": "jinfeng", "community": "c09"},
                              headers=C09_STAFF).json()  # fmt: skip
        return [m for m in listed if m["need_id"] == str(ticket)]

    [match] = eventually(found)
    return f"/matches/{match['match_id']}"


def test_another_communitys_staff_answer_for_their_need_but_never_for_the_unit_offering(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    match = _c09_proposal(matching, "unit-a")
    as_unit = matching.post(f"{match}/acceptance", json={"by": "unit"}, headers=C09_STAFF)
    assert (as_unit.status_code, as_unit.json()["error"]["code"]) == (
        403,
        "policy.outside_territory",
    )
    assert matching.post(f"{match}/acceptance", json={"by": "community"},
                         headers=C09_STAFF).json()["match"]["state"] == "proposed"  # fmt: skip
    unit = unit_staff("unit-a")
    by_unit = matching.post(f"{match}/acceptance", json={"by": "unit"}, headers=unit)
    assert by_unit.json()["match"]["state"] == "agreed"
    assert matching.post(f"{match}/delivery", headers=C09_STAFF).status_code == 403
    assert matching.post(f"{match}/delivery", headers=unit).is_success
    assert matching.post(f"{match}/confirmation", headers=STAFF).status_code == 403  # c01
    assert matching.post(f"{match}/confirmation", headers=C09_STAFF).is_success


def test_the_offering_communitys_staff_answer_for_its_own_offer_proposed_next_door(
    matching: TestClient,
) -> None:
    match = _c09_proposal(matching, None)
    assert matching.post(f"{match}/acceptance", json={"by": "unit"}, headers=C09_STAFF
                         ).status_code == 403  # fmt: skip
    assert matching.post(f"{match}/acceptance", json={"by": "unit"}).is_success  # c01's staff
    assert matching.get(match).status_code == 200
    agreed = matching.post(f"{match}/acceptance", json={"by": "community"}, headers=C09_STAFF)
    assert agreed.json()["match"]["state"] == "agreed"
    assert matching.post(f"{match}/cancellation", json={"by": "unit"}).is_success


def test_a_demand_is_filled_by_as_many_agreements_as_it_asks_and_a_unit_never_serves_itself(
    matching: TestClient,
) -> None:
    for unit_id in ("unit-need", "unit-x", "unit-y"):
        enrolled(matching, unit_id)
        offer(matching, unit_id, PARKING)
    terms = {**PARKING, "title": "员工停车", "capacity": 1}
    demand = {"side": "demand", "unit_id": "unit-need", "district": "jinfeng",
              "community": "c01", "terms": terms}  # fmt: skip
    need = matching.post("/listings", json=demand).json()["listing"]["listing_id"]
    found = eventually(lambda: len(mine := proposals_for(matching, need)) == 2 and mine)
    assert {p["unit_id"] for p in found} == {"unit-x", "unit-y"}  # not its own offer
    first, second = (f"/matches/{p['match_id']}" for p in found)
    for side, who in (("community", STAFF), ("unit", unit_staff(found[0]["unit_id"]))):
        matching.post(f"{first}/acceptance", json={"by": side}, headers=who).raise_for_status()
    assert eventually(lambda: matching.get(f"/needs/demand/{need}").json()["state"] == "filled")
    assert eventually(lambda: matching.get(second).json()["state"] == "closed")
    late = matching.post(f"{second}/acceptance", json={"by": "community"})
    assert late.status_code == 409
    matching.post(f"{first}/cancellation", json={"by": "community"}).raise_for_status()
    assert eventually(lambda: matching.get(f"/needs/demand/{need}").json()["state"] == "open")


def test_a_ticket_triaged_again_into_another_category_closes_the_proposals_for_the_old_one(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-p")
    enrolled(matching, "unit-r")
    offer(matching, "unit-p", PARKING)
    offer(matching, "unit-r", {"category": "repair", "title": "电梯维修", "capacity": 3})
    feeds = Feeds(matching)
    ticket = feeds.triaged_ticket(category="parking")
    [parking] = eventually(lambda: proposals_for(matching, ticket))
    feeds.retriage(ticket, category="elevator")

    def states() -> list[tuple[str, str]]:
        return sorted((p["unit_id"], p["state"]) for p in proposals_for(matching, ticket))

    assert eventually(lambda: states() == [("unit-p", "closed"), ("unit-r", "proposed")])
    late = matching.post(f"/matches/{parking['match_id']}/acceptance", json={"by": "community"})
    assert late.status_code == 409


def test_a_match_by_hand_does_not_agree_a_proposal_past_its_time_nor_hold_back_the_others() -> None:
    clock = MovableClock()
    settings = matching_settings(OFFLINE_BUS, memory_store(), relay_enabled=False,
                                 matchmaker_seconds=3600)  # fmt: skip
    with TestClient(create_app(settings, clock=clock), headers=STAFF) as matching:
        listings = []
        for unit_id in ("unit-a", "unit-b", "unit-c", "unit-d"):
            enrolled(matching, unit_id)
            listings.append(offer(matching, unit_id, PARKING))
        app: Any = matching.app
        app.state.matching.matchmaking.wake = lambda: None  # a busy matchmaker: not yet
        ticket = Feeds(matching).triaged_ticket(category="parking")
        by_hand = matching.post(f"/needs/ticket/{ticket}/matches",
                                json={"listing_id": listings[3]})  # fmt: skip
        assert by_hand.status_code == 201, by_hand.text
        app.state.matching.matchmaker.propose_waiting()
        assert eventually(lambda: len(proposals_for(matching, ticket)) == 4)  # three more
        match = f"/matches/{by_hand.json()['match']['match_id']}"
        matching.post(f"{match}/decline", json={"by": "unit", "reason": "other"},
                      headers=unit_staff("unit-d")).raise_for_status()  # fmt: skip
        proposed = next(p for p in proposals_for(matching, ticket) if p["state"] == "proposed")
        unit = unit_staff(proposed["unit_id"])
        matching.post(f"/matches/{proposed['match_id']}/acceptance", json={"by": "unit"},
                      headers=unit).raise_for_status()  # fmt: skip
        clock.advance(timedelta(days=4))  # past its three days; the sweep has not run
        late = matching.post(f"/needs/ticket/{ticket}/matches",
                             json={"listing_id": proposed["listing_id"]})  # fmt: skip
        assert (late.status_code, late.json()["error"]["code"]) == (409, "match.illegal_transition")


def test_a_match_delivered_just_after_midnight_in_china_is_evidence_for_that_days_quarter() -> None:
    clock = MovableClock()
    clock.offset = datetime(2026, 9, 30, 18, 30, tzinfo=UTC) - datetime.now(UTC)  # 10-01 02:30
    street = bearer("street-1", "street_official", scope={"district": "jinfeng", "street": "s01"})
    settings = matching_settings(OFFLINE_BUS, memory_store(), relay_enabled=False)
    with TestClient(create_app(settings, clock=clock), headers=STAFF) as matching:
        enrolled(matching, "unit-a")
        offer(matching, "unit-a", PARKING)
        ticket = str(Feeds(matching).triaged_ticket(category="parking"))
        [found] = eventually(lambda: proposals_for(matching, ticket))
        match = f"/matches/{found['match_id']}"
        for step, body in (("acceptance", {"by": "community"}), ("acceptance", {"by": "unit"}),
                           ("delivery", None)):  # fmt: skip
            matching.post(f"{match}/{step}", json=body).raise_for_status()
        for period in ("2026-Q3", "2026-Q4"):
            matching.post("/units/unit-a/evaluations", json={"period": period},
                          headers=street).raise_for_status()  # fmt: skip

        def evidence(period: str) -> list[str]:
            found = matching.get(f"/units/unit-a/evaluations/{period}/evidence", headers=street)
            return [m["match_id"] for m in found.json()]

        assert eventually(lambda: evidence("2026-Q4") == [found["match_id"]])
        assert evidence("2026-Q3") == []


def test_a_unit_page_form_with_an_unknown_side_is_refused_naming_it(matching: TestClient) -> None:
    enrolled(matching, "unit-p")
    offer(matching, "unit-p", PARKING)
    ticket = Feeds(matching).triaged_ticket(category="parking")
    [found] = eventually(lambda: proposals_for(matching, ticket))
    for by in ("Unit", "xyz", "unit\x00"):
        answer = matching.post(f"/unit/unit-p/matches/{found['match_id']}/acceptance",
                               data={"by": by, "key": f"k-{by!r}"})  # fmt: skip
        assert answer.status_code == 422, answer.text
    assert proposals_for(matching, ticket)[0]["accepted_by"] == []
