"""The two lists over HTTP: who may list what, the listing's lifecycle, and search."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.matching import caught_up, enrolled, register, unit_staff

SATURDAYS = {"weekly": [{"weekday": 6, "opens": "09:00", "closes": "17:00"}]}
DECEMBER = {"dates": [{"starts_on": "2026-12-01", "ends_on": "2026-12-31"}]}
ROOM = {"category": "venue", "title": "100座会议室和投影", "capacity": 100,
        "capacity_unit": "seats", "description": "周末可借用，需提前三天预约",
        "availability": SATURDAYS}  # fmt: skip
PARKING = {"category": "parking", "title": "错峰停车位", "capacity": 20, "capacity_unit": "places",
           "availability": DECEMBER}  # fmt: skip


def _publish(client: TestClient, terms: dict[str, Any], *, unit_id: str | None = "unit-a",
             side: str = "offer", headers: dict[str, str] | None = None) -> Any:  # fmt: skip
    body = {"side": side, "unit_id": unit_id, "district": "jinfeng", "community": "c01",
            "terms": terms}  # fmt: skip
    return client.post("/listings", json=body, headers=headers)


def _listed(client: TestClient, **params: Any) -> list[str]:
    caught_up(client)
    response = client.get("/listings", params={"district": "jinfeng", **params})
    assert response.status_code == 200, response.text
    return [entry["terms"]["title"] for entry in response.json()]


def test_a_member_unit_lists_an_offer_and_the_community_lists_its_own(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    offer = _publish(matching, ROOM, headers=unit_staff("unit-a"))
    assert offer.status_code == 201, offer.text
    assert offer.json()["listing"]["unit_id"] == "unit-a"
    own = _publish(matching, {"category": "training", "title": "党员培训"}, unit_id=None)
    assert own.status_code == 201
    caught_up(matching)
    entries = matching.get("/listings", params={"district": "jinfeng"}).json()
    assert {(e["unit_id"], e["unit_name"]) for e in entries} == {
        ("unit-a", "unit-a 公司"),
        (None, None),
    }


def test_a_unit_that_is_not_a_member_in_good_standing_may_not_list(matching: TestClient) -> None:
    register(matching, "unit-a")
    refused = _publish(matching, ROOM)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "listing.invalid")
    matching.post("/units/unit-a/alliance").raise_for_status()
    matching.post("/units/unit-a/suspension", json={"reason": "complaints"}).raise_for_status()
    assert _publish(matching, ROOM).status_code == 422
    assert _publish(matching, ROOM, unit_id="unit-nobody").status_code == 404


def test_unit_staff_list_and_change_only_for_their_own_unit(matching: TestClient) -> None:
    enrolled(matching, "unit-a")
    enrolled(matching, "unit-b")
    other = _publish(matching, ROOM, unit_id="unit-b", headers=unit_staff("unit-a"))
    assert (other.status_code, other.json()["error"]["code"]) == (403, "policy.not_your_unit")
    community = _publish(matching, ROOM, unit_id=None, headers=unit_staff("unit-a"))
    assert community.status_code == 403
    listing = _publish(matching, ROOM, unit_id="unit-b").json()["listing"]["listing_id"]
    paused = matching.post(f"/listings/{listing}/pause", headers=unit_staff("unit-a"))
    assert (paused.status_code, paused.json()["error"]["code"]) == (403, "policy.not_your_unit")
    assert matching.post(f"/listings/{listing}/pause", headers=unit_staff("unit-b")).is_success


def test_a_listing_is_changed_paused_resumed_and_withdrawn_and_steps_out_of_order_are_409(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    listing = _publish(matching, ROOM).json()["listing"]["listing_id"]
    changed = matching.post(
        f"/listings/{listing}/changes", json={"terms": {**ROOM, "capacity": 80}}
    )
    assert changed.json()["listing"]["terms"]["capacity"] == 80
    assert matching.post(f"/listings/{listing}/resumption").status_code == 409
    assert matching.post(f"/listings/{listing}/pause").json()["listing"]["state"] == "paused"
    assert _listed(matching) == []
    assert _listed(matching, state="paused") == [ROOM["title"]]
    assert matching.post(f"/listings/{listing}/resumption").json()["listing"]["state"] == "listed"
    assert matching.post(f"/listings/{listing}/withdrawal").json()["listing"]["state"] == (
        "withdrawn"
    )
    assert matching.post(f"/listings/{listing}/changes", json={"terms": ROOM}).status_code == 409


def test_the_lists_are_searched_by_category_side_text_and_availability(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    _publish(matching, ROOM).raise_for_status()
    _publish(matching, PARKING).raise_for_status()
    _publish(matching, {"category": "counselling", "title": "心理咨询"}, side="demand")
    assert _listed(matching, category="parking") == [PARKING["title"]]
    assert _listed(matching, side="demand") == ["心理咨询"]
    assert _listed(matching, q="投影") == [ROOM["title"]]
    assert set(_listed(matching, q="UNIT-A 公司")) == {ROOM["title"], PARKING["title"], "心理咨询"}
    saturday = "2026-12-05T10:00:00+08:00"
    assert set(_listed(matching, available_at=saturday)) == {
        ROOM["title"],
        PARKING["title"],
        "心理咨询",
    }
    sunday_in_january = "2027-01-03T10:00:00+08:00"
    assert _listed(matching, available_at=sunday_in_january) == ["心理咨询"]


def test_terms_that_do_not_hold_together_are_a_422_naming_the_field(matching: TestClient) -> None:
    enrolled(matching, "unit-a")
    backwards = {**ROOM, "availability": {"weekly": [
        {"weekday": 1, "opens": "18:00", "closes": "09:00"}]}}  # fmt: skip
    response = _publish(matching, backwards)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.availability.weekly.0.closes"
    control = _publish(matching, {**ROOM, "title": "会议\x07室"})
    assert control.status_code == 422
    assert _publish(matching, {**ROOM, "capacity": 0}).status_code == 422
