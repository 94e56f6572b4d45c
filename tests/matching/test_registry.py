"""The unit registry over HTTP: registration, alliance membership, agreements, contacts."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from services.matching.main import create_app
from services.runtime.settings import StoreSettings
from tests.conftest import OFFLINE_BUS
from tests.support.matching import (
    AWAY_STAFF,
    STAFF,
    caught_up,
    enrolled,
    matching_settings,
    register,
    unit_staff,
)


def test_a_registered_unit_is_shown_with_its_community_and_street_but_no_contact(
    matching: TestClient,
) -> None:
    body = register(matching, "unit-c01-1", contact={"name": "王小明", "phone": "13812345678"})
    unit = body["unit"]
    assert (unit["community"], unit["street"], unit["membership"]) == ("c01", "s01", "none")
    assert "王小明" not in matching.get("/units/unit-c01-1").text
    caught_up(matching)
    listed = matching.get("/units", params={"district": "jinfeng", "community": "c01"})
    assert [u["unit_id"] for u in listed.json()] == ["unit-c01-1"]


def test_a_second_registration_under_the_same_code_is_refused_with_409(
    matching: TestClient,
) -> None:
    register(matching, "unit-c01-1")
    again = matching.post("/units", json={"unit_id": "unit-c01-1", "name": "x", "kind": "shop",
                                           "district": "jinfeng", "community": "c01"})  # fmt: skip
    assert (again.status_code, again.json()["error"]["code"]) == (409, "unit.already_registered")


def test_a_unit_at_a_community_the_territory_does_not_know_is_a_422_naming_the_field(
    matching: TestClient,
) -> None:
    body = {"unit_id": "u-9", "name": "x", "kind": "shop", "district": "jinfeng",
            "community": "c999"}  # fmt: skip
    response = matching.post("/units", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "territory.unknown_place"


def test_membership_goes_member_suspended_member_left_and_refuses_steps_out_of_order(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    assert matching.post("/units/unit-a/reinstatement").status_code == 409
    suspended = matching.post("/units/unit-a/suspension", json={"reason": "complaints"})
    assert suspended.json()["unit"]["membership"] == "suspended"
    reinstated = matching.post("/units/unit-a/reinstatement")
    assert reinstated.json()["unit"]["membership"] == "member"
    left = matching.post("/units/unit-a/departure", json={"reason": "moved_away"})
    assert left.json()["unit"]["membership"] == "left"
    assert matching.post("/units/unit-a/suspension", json={"reason": "other"}).status_code == 409


def test_an_agreement_is_signed_for_a_term_renewed_later_and_ended(matching: TestClient) -> None:
    register(matching, "unit-a")
    bad = matching.post("/units/unit-a/agreement",
                        json={"starts_on": "2026-01-01", "ends_on": "2025-12-31"})  # fmt: skip
    assert (bad.status_code, bad.json()["error"]["fields"][0]["field"]) == (422, "body.ends_on")
    signed = matching.post("/units/unit-a/agreement",
                           json={"starts_on": "2026-01-01", "ends_on": "2026-12-31"})  # fmt: skip
    assert signed.json()["unit"]["agreement"] == "active"
    earlier = matching.post("/units/unit-a/agreement/renewal", json={"ends_on": "2026-06-30"})
    assert earlier.status_code == 422
    renewed = matching.post("/units/unit-a/agreement/renewal", json={"ends_on": "2027-12-31"})
    assert renewed.json()["unit"]["agreement_ends"] == "2027-12-31"
    ended = matching.post("/units/unit-a/agreement/end", json={"how": "by_agreement"})
    assert ended.json()["unit"]["agreement"] == "ended"


def test_a_units_contact_is_masked_revealed_only_with_a_reason_and_that_read_is_logged(
    matching: TestClient,
) -> None:
    register(matching, "unit-a", contact={"name": "王小明", "phone": "13812345678"})
    masked = matching.get("/units/unit-a/contact").json()
    assert (masked["masked"], masked["phone"]) == (True, "138****5678")
    own = matching.get("/units/unit-a/contact", headers=unit_staff("unit-a"))
    assert own.json()["masked"] is True
    other = matching.get("/units/unit-a/contact", headers=unit_staff("unit-b"))
    assert (other.status_code, other.json()["error"]["code"]) == (403, "policy.not_your_unit")
    shown = matching.get("/units/unit-a/contact", params={"reason": "联系共建活动"}).json()
    assert (shown["masked"], shown["name"], shown["phone"]) == (False, "王小明", "13812345678")
    vault = matching.app.state.matching.store.vault  # type: ignore[attr-defined]
    logged = vault.disclosures(within={}, person_id=None, limit=10, offset=0)
    assert [(d.record_id, d.reason) for d in logged] == [("unit-a", "联系共建活动")]


def test_staff_of_another_community_may_not_manage_the_unit(matching: TestClient) -> None:
    register(matching, "unit-a")
    response = matching.post("/units/unit-a/alliance", headers=AWAY_STAFF)
    assert (response.status_code, response.json()["error"]["code"]) == (
        403,
        "policy.outside_territory",
    )


def test_a_registration_retried_with_its_idempotency_key_answers_the_first_answer(
    matching: TestClient,
) -> None:
    body = {"unit_id": "unit-k", "name": "k", "kind": "school", "district": "jinfeng",
            "community": "c01", "contact": {"name": "李四", "phone": "13900001111"}}  # fmt: skip
    first = matching.post("/units", json=body, headers={"Idempotency-Key": "reg-1"})
    again = matching.post("/units", json=body, headers={"Idempotency-Key": "reg-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()


def test_a_restarted_matching_service_answers_from_its_own_store_as_before(
    tmp_path: Path,
) -> None:
    settings = matching_settings(
        OFFLINE_BUS, StoreSettings(sqlite_path=tmp_path / "matching.sqlite"), relay_enabled=False
    )
    with TestClient(create_app(settings), headers=STAFF) as first:
        enrolled(first, "unit-a", contact={"name": "王小明", "phone": "13812345678"})
        terms = {"category": "parking", "title": "错峰停车位", "capacity": 20}
        body = {"side": "offer", "unit_id": "unit-a", "district": "jinfeng", "community": "c01",
                "terms": terms}  # fmt: skip
        first.post("/listings", json=body).raise_for_status()
        caught_up(first)
        before = (first.get("/units/unit-a").json(),
                  first.get("/listings", params={"district": "jinfeng"}).json())  # fmt: skip
    with TestClient(create_app(settings), headers=STAFF) as second:
        caught_up(second)
        after = (second.get("/units/unit-a").json(),
                 second.get("/listings", params={"district": "jinfeng"}).json())  # fmt: skip
        shown = second.get("/units/unit-a/contact", params={"reason": "核对联系人"}).json()
    assert after == before
    assert shown["name"] == "王小明"
