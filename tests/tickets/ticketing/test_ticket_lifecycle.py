"""Tickets through HTTP on a real nats-server and SQLite, from receipt to close."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import create_app as create_tickets
from shiliu.demo import district_plan
from tests.conftest import demo_territory, eventually, tickets_settings
from tests.support.tokens import bearer
from tests.tickets.ticketing.ticket_helpers import (
    GRID_WORKER,
    RESIDENT,
    SECRETARY,
    dispatched,
    handler,
    received,
    request,
    step,
)

DESK = bearer("sec-0", "community_secretary", scope={})
"""A community desk without territory limits: receives, triages and reads anywhere."""


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_ticket_goes_from_chat_group_to_rated_close_under_its_rule_version(
    tickets: TestClient,
) -> None:
    ticket_id = received(tickets)
    triaged = step(tickets, ticket_id, "triage", {"category": "flying_wire_charging"}, GRID_WORKER)
    assert triaged["grid"] == "g01"  # building b001 lies in grid g01
    assert triaged["rule_version"] == 1
    assert triaged["level"] == "grid"
    dispatched_ = step(tickets, ticket_id, "dispatch", {"handler_id": "unit-a"}, GRID_WORKER)
    assert dispatched_["deadline"]["kind"] == "accept"
    unit = handler("unit-a")
    assert step(tickets, ticket_id, "acceptance", {"handler_id": "unit-a"}, unit)["state"] == (
        "accepted"
    )
    step(tickets, ticket_id, "work", {"handler_id": "unit-a"}, unit)
    held = step(tickets, ticket_id, "hold", {"handler_id": "unit-a", "reason": "weather"}, unit)
    assert held["deadline"]["paused"] is True
    resumed = step(tickets, ticket_id, "resumption", {"handler_id": "unit-a"}, unit)
    assert resumed["deadline"]["due_at"] >= held["deadline"]["due_at"]
    reported = step(
        tickets,
        ticket_id,
        "resolution",
        {"handler_id": "unit-a", "amount": "1200.50", "note": "拆除飞线"},
        unit,
    )
    assert reported["amount"] == "1200.50"
    step(tickets, ticket_id, "verification", {"passed": True}, SECRETARY)
    closed = step(tickets, ticket_id, "rating", {"rating": 5}, RESIDENT)
    assert closed["state"] == "closed"
    assert closed["outcome"] == "fixed"
    assert closed["deadline"] is None


def test_a_poor_rating_reopens_the_ticket_with_a_fresh_resolve_deadline(
    tickets: TestClient,
) -> None:
    ticket_id = dispatched(tickets)
    unit = handler("unit-a")
    step(tickets, ticket_id, "acceptance", {"handler_id": "unit-a"}, unit)
    step(tickets, ticket_id, "resolution", {"handler_id": "unit-a"}, unit)
    step(tickets, ticket_id, "verification", {"passed": True}, SECRETARY)
    reopened = step(tickets, ticket_id, "rating", {"rating": 1}, RESIDENT)
    assert reopened["state"] == "in_progress"
    assert reopened["reopenings"] == 1
    assert reopened["deadline"]["kind"] == "resolve"


def test_a_failed_verification_reopens_and_closed_not_fixed_is_its_own_outcome(
    tickets: TestClient,
) -> None:
    ticket_id = dispatched(tickets)
    unit = handler("unit-a")
    step(tickets, ticket_id, "acceptance", {"handler_id": "unit-a"}, unit)
    step(tickets, ticket_id, "resolution", {"handler_id": "unit-a"}, unit)
    reopened = step(tickets, ticket_id, "verification", {"passed": False}, SECRETARY)
    assert reopened["state"] == "in_progress"
    closed = step(tickets, ticket_id, "closure", {"fixed": False}, SECRETARY)
    assert closed["state"] == "closed_not_fixed"
    assert closed["outcome"] == "not_fixed"


def test_a_duplicate_is_merged_into_the_first_ticket_which_lists_it(tickets: TestClient) -> None:
    first = received(tickets)
    duplicate = received(tickets, title="又有人飞线充电")
    merged = step(tickets, duplicate, "merge", {"into_ticket_id": first}, GRID_WORKER)
    assert merged["state"] == "merged"
    assert merged["merged_into"] == first
    assert tickets.get(f"/tickets/{first}", headers=SECRETARY).json()["duplicates"] == [duplicate]
    refused = tickets.post(
        f"/tickets/{duplicate}/dispatch", json={"handler_id": "unit-a"}, headers=GRID_WORKER
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["state"] == "merged"


def test_a_returned_ticket_goes_back_to_triaged_and_can_be_dispatched_again(
    tickets: TestClient,
) -> None:
    ticket_id = dispatched(tickets)
    returned = step(
        tickets,
        ticket_id,
        "return",
        {"handler_id": "unit-a", "reason": "no_capacity"},
        handler("unit-a"),
    )
    assert returned["state"] == "triaged"
    assert returned["handler_id"] is None
    again = step(
        tickets,
        ticket_id,
        "dispatch",
        {"handler_id": "team-1", "handler_kind": "volunteer_team"},
        GRID_WORKER,
    )
    assert again["handler_id"] == "team-1"


def test_a_door_knocking_visit_opens_proactive_tickets(tickets: TestClient) -> None:
    visit = tickets.post(
        "/visits",
        json={
            "district": "jinfeng",
            "street": "s01",
            "community": "c01",
            "grid": "g01",
            "building": "b002",
            "households": 12,
            "household_ids": ["person-7"],
            "notes": "7号独居老人血压偏高",
            "findings": [
                {"title": "单元门禁损坏", "category": "other"},
                {"title": "楼道灯不亮", "category": "lighting"},
            ],
        },
        headers=GRID_WORKER,
    )
    assert visit.status_code == 201, visit.text
    opened = visit.json()["opened_tickets"]
    assert len(opened) == 2
    ticket = tickets.get(f"/tickets/{opened[1]}", headers=SECRETARY).json()
    assert ticket["proactive"] is True
    assert ticket["channel"] == "grid_patrol"
    assert ticket["category"] == "lighting"
    assert ticket["grid"] == "g01"
    visit_id = visit.json()["visit_id"]
    unexplained = tickets.get(f"/visits/{visit_id}", headers=GRID_WORKER)
    assert unexplained.status_code == 422  # the notes are restricted: a reason is required
    read = tickets.get(
        f"/visits/{visit_id}", params={"reason": "回访独居老人"}, headers=GRID_WORKER
    )
    assert read.status_code == 200, read.text
    assert read.json()["notes"] == "7号独居老人血压偏高"
    assert read.json()["opened_tickets"] == opened
    log = tickets.get("/ops/personal-access", params={"person_id": "person-7"}).json()
    assert [(e["kind"], e["reason"]) for e in log] == [("visit.notes", "回访独居老人")]


def test_unknown_places_and_categories_are_answered_422_naming_the_field(
    tickets: TestClient,
) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"community": "c99"}, "body.community"),
        ({"grid": "g99"}, "body.grid"),
        ({"building": "b999"}, "body.building"),
        ({"grid": "g01", "building": "b043"}, "body.grid"),  # b043 lies in g10
        ({"category": "teleportation"}, "body.category"),
        ({"requester_id": None}, "body.requester_id"),
    ]
    for changes, field in cases:
        response = tickets.post("/tickets", json={**_request(), **changes}, headers=SECRETARY)
        assert response.status_code == 422, (changes, response.text)
        assert response.json()["error"]["fields"][0]["field"] == field, response.text
    stored = received(tickets)
    # Once the view has caught up with a ticket received after them, none of them is there.
    assert _listed_once_caught_up(tickets, stored) == [stored]


def _listed_once_caught_up(tickets: TestClient, latest: str) -> list[str]:
    """The district's ticket ids, read once the (lagging) view lists `latest`."""

    def listed() -> list[str] | None:
        response = tickets.get("/tickets", params={"district": "jinfeng"}, headers=SECRETARY)
        ids = [row["ticket_id"] for row in response.json()["items"]]
        return ids if latest in ids else None

    found: list[str] = eventually(listed)
    return found


def _request() -> dict[str, object]:
    from tests.tickets.ticketing.ticket_helpers import request

    return request()


def test_a_retried_receipt_with_the_same_idempotency_key_stores_one_ticket(
    tickets: TestClient,
) -> None:
    keyed = {**RESIDENT, "Idempotency-Key": "ticket-retry-1"}
    first = tickets.post("/tickets", json=_request(), headers=keyed)
    again = tickets.post("/tickets", json=_request(), headers=keyed)
    assert first.status_code == again.status_code == 201
    assert first.json()["ticket"]["id"] == again.json()["ticket"]["id"]
    assert _listed_once_caught_up(tickets, first.json()["ticket"]["id"]) == [
        first.json()["ticket"]["id"]
    ]
    other = tickets.post("/tickets", json={**_request(), "title": "另一件事"}, headers=keyed)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "request.idempotency_key_reused"


def test_a_handler_that_is_not_the_dispatched_one_is_refused_and_nothing_changes(
    tickets: TestClient,
) -> None:
    ticket_id = dispatched(tickets)
    wrong = tickets.post(
        f"/tickets/{ticket_id}/acceptance", json={"handler_id": "unit-b"}, headers=handler("unit-b")
    )
    assert wrong.status_code == 409
    assert wrong.json()["error"]["code"] == "ticket.not_the_handler"
    foreign = tickets.post(
        f"/tickets/{ticket_id}/acceptance", json={"handler_id": "unit-a"}, headers=handler("unit-b")
    )
    assert foreign.status_code == 403
    assert tickets.get(f"/tickets/{ticket_id}", headers=SECRETARY).json()["state"] == "dispatched"


@pytest.fixture
def two_districts(
    bus: BusSettings, stores: dict[str, StoreSettings], tmp_path: Path
) -> Iterator[TestClient]:
    """jinfeng and yinhe, whose streets and communities have the same codes (s01/c01, …)."""
    other = tmp_path / "yinhe.json"
    other.write_text(district_plan().model_copy(update={"code": "yinhe"}).model_dump_json())
    settings = tickets_settings(bus, stores["tickets"], territory_files=[demo_territory(), other])
    with TestClient(create_tickets(settings), headers=DESK) as client:
        yield client


def _received_anywhere(client: TestClient, **changes: str) -> str:
    response = client.post("/tickets", json=request(**changes), headers=DESK)
    assert response.status_code == 201, response.text
    ticket_id: str = response.json()["ticket"]["id"]
    return ticket_id


def _merged_into_yinhe(
    client: TestClient, headers: dict[str, str]
) -> tuple[str, str, httpx.Response]:
    """A jinfeng/c01 ticket, a yinhe/c01 one, and the answer to merging the first into it."""
    duplicate = received(client)
    elsewhere = _received_anywhere(client, district="yinhe")
    answer = client.post(
        f"/tickets/{duplicate}/merge", json={"into_ticket_id": elsewhere}, headers=headers
    )
    return duplicate, elsewhere, answer


def test_merging_into_a_ticket_of_another_district_is_not_found(
    two_districts: TestClient,
) -> None:
    duplicate, elsewhere, refused = _merged_into_yinhe(two_districts, GRID_WORKER)

    assert refused.status_code == 404, refused.text
    assert refused.json()["error"] == {
        "code": "ticket.not_found", "message": f"no ticket with id {elsewhere}",
    }  # fmt: skip
    assert two_districts.get(f"/tickets/{elsewhere}", headers=DESK).json()["duplicates"] == []
    assert two_districts.get(f"/tickets/{duplicate}", headers=DESK).json()["state"] == "received"


def test_merging_into_a_ticket_outside_the_callers_territory_answers_as_for_an_unknown_one(
    tickets: TestClient,
) -> None:
    duplicate = received(tickets)
    away = _received_anywhere(tickets, community="c09", building="b001")
    unknown = str(uuid.uuid4())

    answers = [
        tickets.post(
            f"/tickets/{duplicate}/merge", json={"into_ticket_id": into}, headers=GRID_WORKER
        )
        for into in (away, unknown)
    ]

    assert [a.status_code for a in answers] == [404, 404], answers[0].text
    assert [a.json()["error"]["message"] for a in answers] == [
        f"no ticket with id {away}", f"no ticket with id {unknown}",
    ]  # fmt: skip


def test_a_ticket_is_not_merged_into_one_of_a_same_named_community_in_another_district(
    two_districts: TestClient,
) -> None:
    _, elsewhere, refused = _merged_into_yinhe(two_districts, DESK)

    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["fields"][0]["field"] == "body.into_ticket_id"
    assert two_districts.get(f"/tickets/{elsewhere}", headers=DESK).json()["duplicates"] == []


def test_a_visit_at_a_building_not_in_the_territory_or_its_grid_is_refused_naming_the_field(
    tickets: TestClient,
) -> None:
    place = {"district": "jinfeng", "street": "s01", "community": "c01", "grid": "g01"}
    for building, field in (("b999", "body.building"), ("b043", "body.grid")):
        body = {**place, "building": building, "households": 1, "findings": []}
        response = tickets.post("/visits", json=body, headers=GRID_WORKER)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["fields"][0]["field"] == field, response.text


def test_triage_keeps_a_ticket_in_the_grid_its_building_lies_in(tickets: TestClient) -> None:
    ticket_id = received(tickets)  # at b001, which lies in g01
    moved = tickets.post(
        f"/tickets/{ticket_id}/triage", json={"category": "parcel_lockers", "grid": "g10"},
        headers=SECRETARY,
    )  # fmt: skip
    assert moved.status_code == 422, moved.text
    assert moved.json()["error"]["fields"][0]["field"] == "body.grid"
    kept = tickets.post(
        f"/tickets/{ticket_id}/triage", json={"category": "parcel_lockers", "grid": "g01"},
        headers=SECRETARY,
    )  # fmt: skip
    assert kept.status_code == 200, kept.text
