"""Bad input gets a clear 4xx naming the field and rule; nothing stored is lost."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.tickets.helpers import RESIDENT, STAFF, posting, unit


def _fields(response_json: dict[str, object]) -> list[str]:
    error = response_json["error"]
    assert isinstance(error, dict)
    return [f["field"] for f in error["fields"]]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"title": 42}, "body.title", "string_type"),
        ({"title": "长" * 61}, "body.title", "string_too_long"),
        ({"category": "spaceship"}, "body.category", "enum"),
        ({"quota": 0}, "body.quota", "greater_than_equal"),
        ({"community": "Not A Slug"}, "body.community", "string_pattern_mismatch"),
        ({"contact": {"name": "王", "phone": "call me"}}, "body.contact.phone",
         "string_pattern_mismatch"),
        ({"expires_at": "2026-12-01T00:00:00"}, "body.expires_at", "timezone_aware"),
        ({"surprise": 1}, "body.surprise", "extra_forbidden"),
    ],
)  # fmt: skip
def test_a_malformed_posting_is_refused_with_422_naming_the_field_and_rule(
    tickets: TestClient, change: dict[str, object], field: str, rule: str
) -> None:
    body = posting(**change)
    body = {k: v for k, v in body.items() if v is not None}
    response = tickets.post("/wishes", json=body, headers=RESIDENT)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "request.invalid"
    assert {"field": field, "rule": rule} in [
        {"field": f["field"], "rule": f["rule"]} for f in error["fields"]
    ]
    assert field in error["message"]


def test_a_missing_field_is_named(tickets: TestClient) -> None:
    body = posting()
    del body["resident_id"]
    response = tickets.post("/wishes", json=body, headers=RESIDENT)
    assert response.status_code == 422
    assert _fields(response.json()) == ["body.resident_id"]


def test_a_body_that_is_not_json_is_refused(tickets: TestClient) -> None:
    response = tickets.post(
        "/wishes", content=b"{not json", headers={**RESIDENT, "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request.invalid"


def test_an_exclusive_wish_with_a_quota_above_one_is_refused_by_the_domain(
    tickets: TestClient,
) -> None:
    response = tickets.post("/wishes", json=posting(quota=3), headers=RESIDENT)
    assert response.status_code == 422
    assert _fields(response.json()) == ["body.quota"]


def test_an_unknown_wish_is_404_and_a_malformed_id_is_422(tickets: TestClient) -> None:
    missing = tickets.post(f"/wishes/{uuid.uuid4()}/verification", headers=STAFF)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "wish.not_found"
    malformed = tickets.get("/wishes/not-a-uuid")
    assert malformed.status_code == 422
    assert _fields(malformed.json()) == ["path.wish_id"]


def test_a_request_without_credentials_is_401_saying_what_to_send(tickets: TestClient) -> None:
    response = tickets.post("/wishes", json=posting(), headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "auth.missing_credentials",
        "message": "send a bearer token or an X-API-Key",
    }


def test_acknowledging_an_unclaimed_wish_is_409_with_the_current_state_and_changes_nothing(
    tickets: TestClient,
) -> None:
    wish_id = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
    tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
    before = tickets.get(f"/wishes/{wish_id}").json()

    response = tickets.post(f"/wishes/{wish_id}/acknowledgement", json={"rating": 5},
                            headers=RESIDENT)  # fmt: skip

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "wish.illegal_transition",
        "message": "cannot acknowledge a wish that is open",
        "state": "open",
        "claimants": [],
    }
    assert tickets.get(f"/wishes/{wish_id}").json() == before


def test_a_unit_without_a_claim_cannot_report_fulfilment(tickets: TestClient) -> None:
    wish_id = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
    tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
    tickets.post(f"/wishes/{wish_id}/claims", json={"unit_id": "unit-a"},
                 headers=unit("unit-a")).raise_for_status()  # fmt: skip
    response = tickets.post(f"/wishes/{wish_id}/fulfilment", json={"unit_id": "unit-b"},
                            headers=unit("unit-b"))  # fmt: skip
    assert response.status_code == 409
    assert response.json()["error"]["claimants"] == ["unit-a"]
