"""Matching proposes offers for needs with reasons, follows what happens to the needs, and
carries each match through its lifecycle; capacity is reserved on agreement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

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

MEALS = {"category": "meals", "title": "爱心午餐", "capacity": 10}
PARKING = {"category": "parking", "title": "错峰停车位", "capacity": 6, "capacity_unit": "places"}


def test_an_open_wish_gets_ranked_proposals_with_reasons_in_chinese_and_english(
    matching: TestClient,
) -> None:
    for unit_id, grid in (("unit-near", "g01"), ("unit-far", "g02")):
        enrolled(matching, unit_id, grid=grid)
        offer(matching, unit_id, MEALS, grid=grid)
    wish_id = Feeds(matching).open_wish(category="meal")
    found = eventually(
        lambda: len(proposals_for(matching, wish_id)) == 2 and proposals_for(matching, wish_id)
    )
    assert [p["unit_id"] for p in found] == ["unit-near", "unit-far"]
    near = {r["code"]: r for r in found[0]["reasons"]}
    assert (near["distance"]["zh"], near["distance"]["en"]) == ("同一网格", "in the same grid")
    assert found[0]["score"] > found[1]["score"]
    assert {p["state"] for p in found} == {"proposed"}


def test_a_claim_in_tickets_agrees_the_claimants_proposal_and_closes_the_others(
    matching: TestClient,
) -> None:
    for unit_id in ("unit-a", "unit-b", "unit-c"):
        enrolled(matching, unit_id)
        offer(matching, unit_id, MEALS)
    feeds = Feeds(matching)
    wish_id = feeds.open_wish()
    eventually(lambda: len(proposals_for(matching, wish_id)) == 3)
    feeds.claim(wish_id, "unit-b")

    def settled() -> dict[str, str]:
        return {p["unit_id"]: p["state"] for p in proposals_for(matching, wish_id)}

    assert eventually(lambda: settled() == {"unit-a": "closed", "unit-b": "agreed",
                                            "unit-c": "closed"})  # fmt: skip


def test_a_joint_wish_gets_a_proposal_per_share_and_stays_open_until_its_quota_is_filled(
    matching: TestClient,
) -> None:
    for unit_id in ("unit-a", "unit-b", "unit-c", "unit-d", "unit-e"):
        enrolled(matching, unit_id)
        offer(matching, unit_id, MEALS)
    feeds = Feeds(matching)
    wish_id = feeds.open_wish(quota=2)
    found = eventually(
        lambda: len(proposals_for(matching, wish_id)) == 4 and proposals_for(matching, wish_id)
    )
    claimant = found[0]["unit_id"]  # two proposals for each share, of five equal units
    feeds.claim(wish_id, claimant, claimants=1, quota=2)
    eventually(
        lambda: {p["state"] for p in proposals_for(matching, wish_id)} == {"agreed", "proposed"}
    )
    claimed = [p for p in proposals_for(matching, wish_id) if p["state"] == "agreed"]
    assert [p["unit_id"] for p in claimed] == [claimant]


def test_a_wish_proposal_is_taken_by_claiming_the_wish_not_by_accepting_it_here(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    offer(matching, "unit-a", MEALS)
    wish_id = Feeds(matching).open_wish()
    [found] = eventually(lambda: proposals_for(matching, wish_id))
    response = matching.post(f"/matches/{found['match_id']}/acceptance", json={"by": "unit"},
                             headers=unit_staff("unit-a"))  # fmt: skip
    assert (response.status_code, response.json()["error"]["code"]) == (409, "match.claim_the_wish")


def test_a_ticket_match_is_agreed_by_both_sides_then_scheduled_delivered_confirmed_and_rated(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-p")
    listing = offer(matching, "unit-p", PARKING)
    ticket_id = Feeds(matching).triaged_ticket(category="parking")
    [found] = eventually(lambda: proposals_for(matching, ticket_id))
    match = f"/matches/{found['match_id']}"
    assert matching.post(f"{match}/acceptance", json={"by": "community"}).status_code == 200
    unit = unit_staff("unit-p")
    agreed = matching.post(f"{match}/acceptance", json={"by": "unit"}, headers=unit)
    assert agreed.json()["match"]["state"] == "agreed"
    store = matching.app.state.matching.store  # type: ignore[attr-defined]
    assert len(store.repository.get(UUID(listing)).reserved) == 1
    when = {"scheduled_for": "2026-12-12T09:00:00+08:00"}
    assert matching.post(f"{match}/schedule", json=when, headers=unit).is_success
    assert matching.post(f"{match}/delivery", headers=unit).json()["match"]["state"] == "delivered"
    assert matching.post(f"{match}/confirmation").json()["match"]["state"] == "confirmed"
    rated = matching.post(f"{match}/rating", json={"rating": 5})
    assert (rated.json()["match"]["state"], rated.json()["match"]["rating"]) == ("rated", 5)


def test_unit_staff_may_not_answer_for_the_community_or_for_another_unit(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-p")
    offer(matching, "unit-p", PARKING)
    ticket_id = Feeds(matching).triaged_ticket(category="parking")
    [found] = eventually(lambda: proposals_for(matching, ticket_id))
    match = f"/matches/{found['match_id']}"
    as_community = matching.post(f"{match}/acceptance", json={"by": "community"},
                                 headers=unit_staff("unit-p"))  # fmt: skip
    assert as_community.status_code == 403
    other = matching.post(f"{match}/acceptance", json={"by": "unit"}, headers=unit_staff("unit-q"))
    assert (other.status_code, other.json()["error"]["code"]) == (403, "policy.not_your_unit")


def test_the_coordinators_find_match_shows_the_same_reasons_without_proposing(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    offer(matching, "unit-a", MEALS)
    wish_id = Feeds(matching).open_wish()
    [proposed] = eventually(lambda: proposals_for(matching, wish_id))
    found = matching.get(f"/needs/wish/{wish_id}/matches").json()
    assert [(f["unit_id"], f["reasons"]) for f in found] == [("unit-a", proposed["reasons"])]
    assert len(proposals_for(matching, wish_id)) == 1


def test_a_proposal_nobody_agreed_expires_after_three_days_and_a_half_acceptance_with_it() -> None:
    clock = MovableClock()
    settings = matching_settings(OFFLINE_BUS, memory_store(), relay_enabled=False)
    with TestClient(create_app(settings, clock=clock), headers=STAFF) as matching:
        enrolled(matching, "unit-p")
        offer(matching, "unit-p", PARKING)
        ticket_id = Feeds(matching).triaged_ticket(category="parking")
        [found] = eventually(lambda: proposals_for(matching, ticket_id))
        match = f"/matches/{found['match_id']}"
        assert matching.post(f"{match}/acceptance", json={"by": "community"}).is_success
        clock.advance(timedelta(days=2))
        matching.app.state.matching.matchmaking.wake()  # type: ignore[attr-defined]
        assert matching.get(match).json()["state"] == "proposed"
        clock.advance(timedelta(days=1, seconds=1))
        assert eventually(lambda: matching.get(match).json()["state"] == "expired")
        late = matching.post(f"{match}/acceptance", json={"by": "unit"},
                             headers=unit_staff("unit-p"))  # fmt: skip
        assert late.status_code == 409


def test_a_demand_listed_by_a_unit_gets_offers_of_its_category_and_counts_in_both_balances(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-need")
    enrolled(matching, "unit-give")
    offer(matching, "unit-give", {"category": "counselling", "title": "心理咨询", "capacity": 5})
    terms = {"category": "counselling", "title": "员工心理咨询"}
    demand = {"side": "demand", "unit_id": "unit-need", "district": "jinfeng",
              "community": "c01", "terms": terms}  # fmt: skip
    need_id = matching.post("/listings", json=demand).json()["listing"]["listing_id"]
    [found] = eventually(lambda: proposals_for(matching, need_id))
    assert (found["need_kind"], found["unit_id"]) == ("demand", "unit-give")
    match = f"/matches/{found['match_id']}"
    matching.post(f"{match}/acceptance", json={"by": "community"}).raise_for_status()
    matching.post(f"{match}/acceptance", json={"by": "unit"}).raise_for_status()
    matching.post(f"{match}/delivery").raise_for_status()
    given = eventually(
        lambda: (b := matching.get("/units/unit-give/balance").json())["given"] and b
    )
    got = eventually(lambda: (b := matching.get("/units/unit-need/balance").json())["got"] and b)
    assert (given["gave"], got["received"]) == ({"counselling": 1}, {"counselling": 1})


def test_unit_staff_answer_for_their_units_offer_proposed_in_a_neighbouring_community(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-s")
    offer(matching, "unit-s", {**PARKING, "reach": "street"})
    ticket = Feeds(matching).triaged_ticket(category="parking", community="c09")
    c09 = {"district": "jinfeng", "community": "c09"}

    def in_c09() -> list[dict[str, Any]]:
        found = matching.get("/matches", params=c09, headers=C09_STAFF).json()
        return [m for m in found if m["need_id"] == str(ticket)]

    [found] = eventually(in_c09)
    staff = unit_staff("unit-s")  # scoped to c01, where the unit lies
    mine = matching.get("/matches", params={"district": "jinfeng", "unit_id": "unit-s"},
                        headers=staff)  # fmt: skip
    assert [m["match_id"] for m in mine.json()] == [found["match_id"]]
    match = f"/matches/{found['match_id']}"
    assert matching.get(match, headers=staff).status_code == 200
    accepted = matching.post(f"{match}/acceptance", json={"by": "unit"}, headers=staff)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["match"]["accepted_by"] == ["unit"]
    other = matching.post(f"{match}/acceptance", json={"by": "unit"}, headers=unit_staff("unit-q"))
    assert other.status_code == 403
    as_c01 = matching.post(f"{match}/acceptance", json={"by": "community"})  # c01's staff
    assert as_c01.status_code == 403
    by_c09 = matching.post(f"{match}/acceptance", json={"by": "community"}, headers=C09_STAFF)
    assert by_c09.json()["match"]["state"] == "agreed"
