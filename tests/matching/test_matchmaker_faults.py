"""What the adversarial review found could stall matching for everyone, each shown to leave the
matchmaker working: one bad record or an unexpected order of steps is set aside or taken in
its stride, never retried forever at the head of the queue."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from events.units import UnitKind
from services.runtime.commands import Caller
from tests.conftest import eventually
from tests.support.matching import Feeds, caught_up, enrolled, offer, proposals

MEALS = {"category": "meals", "title": "爱心午餐", "capacity": 10}
VOLUNTEERS = {"category": "volunteers", "title": "志愿者", "capacity": 10}


def _for(client: TestClient, need_id: Any) -> list[dict[str, Any]]:
    return [p for p in proposals(client) if p["need_id"] == str(need_id)]


def test_a_unit_name_of_only_spaces_is_refused_and_cannot_freeze_the_views(
    matching: TestClient,
) -> None:
    blank = {"unit_id": "unit-blank", "name": " \u3000 ", "kind": "shop", "district": "jinfeng",
             "community": "c01"}  # fmt: skip
    refused = matching.post("/units", json=blank)
    assert (refused.status_code, refused.json()["error"]["fields"][0]["field"]) == (
        422, "body.name"
    )  # fmt: skip
    app = matching.app.state.matching  # type: ignore[attr-defined]
    place = app.places.locate("jinfeng", "c01")
    app.registry.register(Caller("staff-1", "community_staff"), place=place, unit_id="unit-old",
                          name="   ", kind=UnitKind.SHOP, contact=None)  # fmt: skip
    enrolled(matching, "unit-after")
    caught_up(matching)
    units = matching.get("/units", params={"district": "jinfeng"}).json()
    assert [u["unit_id"] for u in units] == ["unit-after"]
    assert app.view.untranslatable == 1


def test_a_window_with_an_offset_is_a_422_not_a_listing_that_breaks_search(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    window = {"weekday": 1, "opens": "08:00+08:00", "closes": "18:00+08:00"}
    terms = {**MEALS, "availability": {"weekly": [window]}}
    body = {"side": "offer", "unit_id": "unit-a", "district": "jinfeng", "community": "c01",
            "terms": terms}  # fmt: skip
    assert matching.post("/listings", json=body).status_code == 422


def test_a_wish_the_community_accepted_first_is_agreed_by_the_claim_and_matching_goes_on(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    offer(matching, "unit-a", MEALS)
    feeds = Feeds(matching)
    first = feeds.open_wish()
    [found] = eventually(lambda: _for(matching, first))
    accepted = matching.post(f"/matches/{found['match_id']}/acceptance", json={"by": "community"})
    assert accepted.is_success
    feeds.claim(first, "unit-a")
    assert eventually(lambda: _for(matching, first)[0]["state"] == "agreed")
    second = feeds.open_wish()
    eventually(lambda: _for(matching, second))
    feeds.claim(second, "unit-a")
    assert eventually(lambda: _for(matching, second)[0]["state"] == "agreed")


def test_a_claim_on_a_paused_offer_is_agreed_without_taking_capacity_and_matching_goes_on(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    listing = offer(matching, "unit-a", MEALS)
    feeds = Feeds(matching)
    wish = feeds.open_wish()
    eventually(lambda: _for(matching, wish))
    assert matching.post(f"/listings/{listing}/pause").is_success
    feeds.claim(wish, "unit-a")
    assert eventually(lambda: _for(matching, wish)[0]["state"] == "agreed")
    later = feeds.open_wish()
    feeds.claim(later, "unit-a")  # no proposal for it: nothing to follow, nothing stuck
    enrolled(matching, "unit-b")
    offer(matching, "unit-b", MEALS)
    afterwards = feeds.open_wish()
    assert eventually(lambda: _for(matching, afterwards))


def test_one_claim_takes_only_the_units_best_proposal_and_closes_its_other_offers(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    offer(matching, "unit-a", MEALS)
    offer(matching, "unit-a", VOLUNTEERS)
    feeds = Feeds(matching)
    wish = feeds.open_wish(category="meal")
    found = eventually(lambda: len(_for(matching, wish)) == 2 and _for(matching, wish))
    feeds.claim(wish, "unit-a")

    def states() -> list[str]:
        return sorted(p["state"] for p in _for(matching, wish))

    assert eventually(lambda: states() == ["agreed", "closed"])
    agreed = next(p for p in _for(matching, wish) if p["state"] == "agreed")
    assert agreed["match_id"] == max(found, key=lambda p: p["score"])["match_id"]
