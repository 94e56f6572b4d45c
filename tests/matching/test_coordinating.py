"""The community coordinator lists the open needs, sees what matching would propose with its
reasons, and matches by hand an offer the matchmaker did not choose."""

from __future__ import annotations

from uuid import UUID

from fastapi.testclient import TestClient

from tests.conftest import eventually
from tests.support.matching import (
    AWAY_STAFF,
    Feeds,
    enrolled,
    offer,
    proposals_for,
    unit_staff,
)

MEALS = {"category": "meals", "title": "爱心午餐", "capacity": 10}
PARKING = {"category": "parking", "title": "错峰停车位", "capacity": 6}


def _four_offers(matching: TestClient) -> list[str]:
    """Four member units' meal offers: one more than an exclusive wish is proposed."""
    listings = []
    for unit_id in ("unit-a", "unit-b", "unit-c", "unit-d"):
        enrolled(matching, unit_id)
        listings.append(offer(matching, unit_id, MEALS))
    return listings


def test_the_coordinator_lists_open_needs_with_titles_and_live_proposals_fewest_first(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    offer(matching, "unit-a", MEALS)
    feeds = Feeds(matching)
    served = feeds.open_wish()
    eventually(lambda: proposals_for(matching, served))
    unserved = feeds.triaged_ticket(category="parking")
    needs = matching.get("/needs", params={"district": "jinfeng", "community": "c01"}).json()
    assert [(n["need_id"], n["live"]) for n in needs] == [(str(unserved), 0), (str(served), 1)]
    assert (needs[1]["title"], needs[0]["title"]) == ("热饺子", None)
    wishes = matching.get("/needs", params={"district": "jinfeng", "community": "c01",
                                            "need_kind": "wish"}).json()  # fmt: skip
    assert [n["need_id"] for n in wishes] == [str(served)]
    one = matching.get(f"/needs/wish/{served}").json()
    assert (one["categories"][0], one["live"]) == ("meals", 1)


def test_a_match_by_hand_proposes_the_chosen_offer_accepted_for_the_community_with_its_reasons(
    matching: TestClient,
) -> None:
    listings = _four_offers(matching)
    wish = Feeds(matching).open_wish()
    eventually(lambda: len(proposals_for(matching, wish)) == 3)
    found = matching.get(f"/needs/wish/{wish}/matches").json()
    assert len(found) == 4
    [left_out] = [f for f in found if f["listing_id"] not in
                  {p["listing_id"] for p in proposals_for(matching, wish)}]  # fmt: skip
    assert left_out["listing_id"] in listings
    made = matching.post(f"/needs/wish/{wish}/matches",
                         json={"listing_id": left_out["listing_id"]})  # fmt: skip
    assert made.status_code == 201, made.text
    match = made.json()["match"]
    assert (match["state"], match["accepted_by"]) == ("proposed", ["community"])
    assert (match["unit_id"], match["reasons"]) == (left_out["unit_id"], left_out["reasons"])
    assert eventually(lambda: len(proposals_for(matching, wish)) == 4)
    assert matching.get(f"/needs/wish/{wish}").json()["live"] == 4


def test_a_match_by_hand_made_twice_is_one_proposal_and_a_ticket_match_agrees_when_the_unit_did(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-p")
    listing = offer(matching, "unit-p", PARKING)
    ticket = Feeds(matching).triaged_ticket(category="parking")
    [proposed] = eventually(lambda: proposals_for(matching, ticket))
    unit = unit_staff("unit-p")
    match = f"/matches/{proposed['match_id']}"
    accepted = matching.post(f"{match}/acceptance", json={"by": "unit"}, headers=unit)
    assert accepted.is_success, accepted.text
    first = matching.post(f"/needs/ticket/{ticket}/matches", json={"listing_id": listing})
    again = matching.post(f"/needs/ticket/{ticket}/matches", json={"listing_id": listing})
    assert first.status_code == again.status_code == 201
    assert first.json()["match"]["match_id"] == proposed["match_id"]
    assert (first.json()["match"]["state"], again.json()["match"]["state"]) == ("agreed", "agreed")
    assert eventually(lambda: [p["state"] for p in proposals_for(matching, ticket)] == ["agreed"])
    store = matching.app.state.matching.store  # type: ignore[attr-defined]
    assert len(store.repository.get(UUID(listing)).reserved) == 1


def test_a_match_by_hand_refuses_an_offer_that_cannot_serve_and_a_need_no_longer_open(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    enrolled(matching, "unit-b")
    offer(matching, "unit-a", MEALS)
    parking = offer(matching, "unit-a", PARKING)
    other = offer(matching, "unit-b", MEALS)
    feeds = Feeds(matching)
    wish = feeds.open_wish()
    eventually(lambda: len(proposals_for(matching, wish)) == 2)
    wrong = matching.post(f"/needs/wish/{wish}/matches", json={"listing_id": parking})
    assert wrong.status_code == 422
    error = wrong.json()["error"]
    assert error["code"] == "match.offer_cannot_serve"
    assert error["fields"][0]["field"] == "body.listing_id"
    feeds.claim(wish, "unit-a")
    assert eventually(lambda: matching.get(f"/needs/wish/{wish}").status_code == 200)
    eventually(lambda: sorted(p["state"] for p in proposals_for(matching, wish))
               == ["agreed", "closed"])  # fmt: skip
    closed = matching.post(f"/needs/wish/{wish}/matches", json={"listing_id": other})
    assert (closed.status_code, closed.json()["error"]["code"]) == (409, "match.need_not_open")


def test_a_coordinator_of_another_community_may_not_see_or_match_a_need_and_none_is_made(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    listing = offer(matching, "unit-a", MEALS)
    wish = Feeds(matching).open_wish()
    eventually(lambda: proposals_for(matching, wish))
    assert matching.get(f"/needs/wish/{wish}", headers=AWAY_STAFF).status_code == 403
    made = matching.post(f"/needs/wish/{wish}/matches", json={"listing_id": listing},
                         headers=AWAY_STAFF)  # fmt: skip
    assert made.status_code == 403
    listed = matching.get("/needs", params={"district": "jinfeng", "community": "c01"},
                          headers=AWAY_STAFF)  # fmt: skip
    assert listed.status_code == 403
    assert [p["accepted_by"] for p in proposals_for(matching, wish)] == [[]]


def test_a_match_by_hand_of_an_offer_the_unit_declined_for_that_need_is_refused(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-p")
    listing = offer(matching, "unit-p", PARKING)
    ticket = Feeds(matching).triaged_ticket(category="parking")
    [proposed] = eventually(lambda: proposals_for(matching, ticket))
    declined = matching.post(f"/matches/{proposed['match_id']}/decline",
                             json={"by": "unit", "reason": "bad_timing"},
                             headers=unit_staff("unit-p"))  # fmt: skip
    assert declined.is_success, declined.text
    again = matching.post(f"/needs/ticket/{ticket}/matches", json={"listing_id": listing})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "match.proposed_before")
    assert [p["state"] for p in proposals_for(matching, ticket)] == ["declined"]
