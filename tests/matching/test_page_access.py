"""Matching's pages keep the API's rules: who is not signed in is sent to sign in and back,
roles and territory are the policy table's, a page naming nothing known is a 404, and a bad
form is refused naming its field with nothing saved."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from services.matching.main import create_app
from tests.conftest import OFFLINE_BUS, eventually, memory_store
from tests.support.matching import (
    AWAY_STAFF,
    STAFF,
    Feeds,
    enrolled,
    matching_settings,
    offer,
    proposals_for,
    unit_staff,
)
from tests.support.tokens import bearer

SIGNIN = "http://127.0.0.1:8701/signin"
MEALS = {"category": "meals", "title": "爱心午餐", "capacity": 10}
RESIDENT = bearer("resident-1", "resident", person="resident-1",
                  scope={"district": "jinfeng", "street": "s01", "community": "c01"})  # fmt: skip


@pytest.fixture
def pages() -> Iterator[TestClient]:
    settings = matching_settings(OFFLINE_BUS, memory_store(), relay_enabled=False,
                                 signin_url=SIGNIN)  # fmt: skip
    with TestClient(create_app(settings), headers=STAFF, follow_redirects=False) as client:
        enrolled(client, "unit-a")
        yield client


def test_a_visitor_not_signed_in_is_sent_to_sign_in_and_back_to_the_same_page(
    pages: TestClient,
) -> None:
    answer = pages.get("/unit/unit-a?lang=en", headers={"Authorization": ""})
    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == SIGNIN
    query = parse_qs(target.query)
    assert query["next"] == ["http://testserver/unit/unit-a?lang=en"]
    assert query["lang"] == ["en"]


def test_without_a_sign_in_page_the_visitor_is_told_to_sign_in_elsewhere() -> None:
    settings = matching_settings(OFFLINE_BUS, memory_store(), relay_enabled=False)
    with TestClient(create_app(settings)) as client:
        answer = client.get("/wall/jinfeng/c01")
    assert answer.status_code == 401
    assert "统一身份认证" in answer.text


@pytest.mark.parametrize(
    ("url", "who"),
    [("/unit/unit-a", unit_staff("unit-b")), ("/unit/unit-a", RESIDENT),
     ("/unit/unit-a", AWAY_STAFF), ("/coordinate/jinfeng/c01", RESIDENT),
     ("/coordinate/jinfeng/c01", AWAY_STAFF), ("/coordinate/jinfeng/c01", unit_staff("unit-a"))],
)  # fmt: skip
def test_a_page_the_policy_refuses_says_why_with_a_403(
    pages: TestClient, url: str, who: dict[str, str]
) -> None:
    answer = pages.get(url, headers=who)
    assert answer.status_code == 403
    assert "未获授权" in answer.text


@pytest.mark.parametrize(
    "url",
    ["/wall/jinfeng/c99", "/wall/nowhere/c01", "/unit/unit-zz", "/coordinate/jinfeng/c99",
     "/coordinate/jinfeng/c01/wish/not-a-uuid",
     "/coordinate/jinfeng/c01/wish/6d3edfab-923f-47e0-af29-5d868ac05ce2",
     "/coordinate/jinfeng/c01/lunch/6d3edfab-923f-47e0-af29-5d868ac05ce2"],
)  # fmt: skip
def test_a_page_naming_nothing_known_is_a_404(pages: TestClient, url: str) -> None:
    assert pages.get(url).status_code == 404


def test_a_need_of_another_community_is_not_shown_under_this_one(pages: TestClient) -> None:
    offer(pages, "unit-a", MEALS)
    wish = Feeds(pages).open_wish()
    eventually(lambda: proposals_for(pages, wish))
    assert pages.get(f"/coordinate/jinfeng/c01/wish/{wish}").status_code == 200
    c02 = bearer("staff-c02", "community_staff",
                 scope={"district": "jinfeng", "street": "s02", "community": "c02"})  # fmt: skip
    assert pages.get("/coordinate/jinfeng/c02", headers=c02).status_code == 200
    assert pages.get(f"/coordinate/jinfeng/c02/wish/{wish}", headers=c02).status_code == 404


def test_a_bad_listing_form_is_refused_naming_the_field_and_nothing_is_listed(
    pages: TestClient,
) -> None:
    form = {"key": "form-1", "side": "offer", "category": "venue", "title": "会议室",
            "capacity": "lots"}  # fmt: skip
    answer = pages.post("/unit/unit-a/listings", data=form)
    assert answer.status_code == 422
    assert "请检查「容量」的填写" in answer.text
    assert pages.get("/listings", params={"district": "jinfeng", "unit_id": "unit-a"}).json() == []


def test_a_listing_form_sent_twice_with_its_key_lists_once(pages: TestClient) -> None:
    form = {"key": "form-2", "side": "offer", "category": "venue", "title": "100座会议室",
            "capacity": "100", "capacity_unit": "seats", "day1": "on", "opens": "09:00",
            "closes": "17:00"}  # fmt: skip
    for _ in range(2):
        answer = pages.post("/unit/unit-a/listings", data=form)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/unit/unit-a#listings"
    listed = pages.get("/listings", params={"district": "jinfeng", "unit_id": "unit-a"}).json()
    assert [entry["terms"]["title"] for entry in listed] == ["100座会议室"]
    assert listed[0]["terms"]["availability"]["weekly"] == [
        {"weekday": 1, "opens": "09:00:00", "closes": "17:00:00"}
    ]


def test_unit_staff_may_not_change_another_units_listing_through_their_own_page(
    pages: TestClient,
) -> None:
    enrolled(pages, "unit-b")
    theirs = offer(pages, "unit-b", MEALS)
    answer = pages.post(f"/unit/unit-a/listings/{theirs}/pause", data={"key": "k-3"},
                        headers=unit_staff("unit-a"))  # fmt: skip
    assert answer.status_code == 404
    other = pages.post(f"/unit/unit-b/listings/{theirs}/pause", data={"key": "k-4"},
                       headers=unit_staff("unit-a"))  # fmt: skip
    assert other.status_code == 403
    assert pages.get(f"/listings/{theirs}").json()["state"] == "listed"
