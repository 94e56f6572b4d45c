"""Bad input gets a clear 4xx naming the field and rule; nothing stored is lost."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from events.wishes import ClaimMode, WishCategory
from services.runtime.commands import Caller
from services.runtime.place import Place
from services.runtime.territory_plan import DistrictPlan
from shiliu.demo import district_plan
from tests.conftest import eventually
from tests.tickets.helpers import RESIDENT, STAFF, posting, unit
from tests.tickets.ticketing.ticket_helpers import GRID, GRID_WORKER, SECRETARY, request


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
        ({"expires_at": "9999-12-31T23:59:59-23:59"}, "body.expires_at",
         "datetime_out_of_range"),  # past the calendar's end in UTC
        ({"expires_at": "2300-01-01T00:00:00Z"}, "body.expires_at", "datetime_out_of_range"),
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


def _visit(**changes: object) -> dict[str, object]:
    finding = {"title": "楼道灯坏了", "category": "lighting"}
    return {**GRID, "households": 3, "notes": "独居老人", "findings": [finding], **changes}


def _dispute(**changes: object) -> dict[str, object]:
    return {
        "district": "jinfeng", "street": "s01", "community": "c01", "kind": "neighbour",
        "summary": "楼上漏水", "parties": [{"person_id": "person-1", "name": "王秀兰"},
                                           {"person_id": "person-2", "name": "李建国"}],
        **changes,
    }  # fmt: skip


TEXT_ENTRIES = [
    ("/wishes", posting(title="饺子\x0b"), RESIDENT, "body.title"),
    ("/wishes", posting(contact={"name": "王\x00", "phone": "13812345678"}), RESIDENT,
     "body.contact.name"),
    ("/wishes", posting(details="独居\x1b[31m老人"), RESIDENT, "body.details"),
    ("/tickets", request(title="楼道\x0b飞线"), RESIDENT, "body.title"),
    ("/tickets", request(description="三楼\x85有人"), RESIDENT, "body.description"),
    ("/tickets", request(contact={"name": "王\u2028\x07", "phone": "13812345678"}), RESIDENT,
     "body.contact.name"),
    ("/visits", _visit(findings=[{"title": "灯\x0c坏", "category": "lighting"}]),
     GRID_WORKER, "body.findings.0.title"),
    ("/visits", _visit(notes="送餐\x00"), GRID_WORKER, "body.notes"),
    ("/disputes", _dispute(summary="漏水\ufffe"), SECRETARY, "body.summary"),
    ("/disputes", _dispute(parties=[{"person_id": "person-1", "name": "王\tA"},
                                    {"person_id": "person-2", "name": "李"}]), SECRETARY,
     "body.parties.0.name"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "headers", "field"), TEXT_ENTRIES)
def test_a_control_character_anywhere_text_enters_is_refused_with_422_naming_the_field(
    tickets: TestClient, path: str, body: dict[str, object], headers: dict[str, str], field: str
) -> None:
    response = tickets.post(path, json=body, headers=headers)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert {"field": field, "rule": "control_character"} in [
        {"field": f["field"], "rule": f["rule"]} for f in error["fields"]
    ]


def test_a_lone_surrogate_escaped_in_json_is_refused_with_422_not_a_server_error(
    tickets: TestClient,
) -> None:
    body = json.dumps(request(title="楼道"), ensure_ascii=False).replace("楼道", "\\ud800")
    headers = {**RESIDENT, "content-type": "application/json"}

    response = tickets.post("/tickets", content=body.encode(), headers=headers)

    assert response.status_code == 422, response.text
    assert _fields(response.json()) == ["body.title"]


@pytest.mark.parametrize("reason", ["check\x85ing the record", "check\x07ing"])
def test_a_reason_in_the_query_with_a_control_character_is_refused_naming_it(
    tickets: TestClient, reason: str
) -> None:
    response = tickets.get(f"/wishes/{uuid.uuid4()}/contact", params={"reason": reason},
                           headers=STAFF)  # fmt: skip

    assert response.status_code == 422, response.text
    assert _fields(response.json()) == ["query.reason"]


def test_a_ticket_titled_with_a_vertical_tab_is_refused(tickets: TestClient) -> None:
    response = tickets.post("/tickets", json=request(title="\x0b"), headers=RESIDENT)

    assert response.status_code == 422
    assert _fields(response.json()) == ["body.title"]


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/wishes", posting(details="独居老人\r\n腿脚不便\t需要帮助"), RESIDENT),
        ("/tickets", request(description="三楼\n有人\t拉线"), RESIDENT),
        ("/visits", _visit(notes="第一户\r\n第二户\t不在家"), GRID_WORKER),
        ("/disputes", _dispute(summary="楼上漏水\n协商不成"), SECRETARY),
    ],
)
def test_prose_fields_keep_their_tabs_and_line_breaks(
    tickets: TestClient, path: str, body: dict[str, object], headers: dict[str, str]
) -> None:
    response = tickets.post(path, json=body, headers=headers)

    assert response.status_code == 201, response.text


def test_a_territory_file_naming_a_place_with_a_control_character_is_refused() -> None:
    plan = district_plan().model_dump(mode="json")
    plan["streets"][0]["communities"][0]["name"] = "c01\x1b社区"

    with pytest.raises(ValidationError, match="control_character"):
        DistrictPlan.model_validate(plan)


def test_an_expiry_past_the_calendars_end_stored_before_it_was_refused_does_not_stall_the_board(
    tickets: TestClient,
) -> None:
    desk = tickets.app.state.tickets.wishes  # type: ignore[attr-defined]
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59)))
    desk.post_wish(
        Caller("staff-1", "community_staff"),
        place=Place("jinfeng", "s01", "c01", "g01"),
        resident_id="person-1",
        title="为晚归的人点亮夜路",
        category=WishCategory.LIGHTING,
        claim_mode=ClaimMode.EXCLUSIVE,
        quota=1,
        expires_at=far,
    )  # fmt: skip, as an older release let it through
    later = tickets.post("/wishes", json=posting(), headers=STAFF)
    assert later.status_code == 201

    def listed() -> int:
        page = tickets.get("/wishes?district=jinfeng&community=c01", headers=STAFF).json()
        return len(page["items"])

    eventually(lambda: listed() == 2)
    assert tickets.get("/health/ready").status_code == 200
