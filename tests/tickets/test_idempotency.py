"""A command retried with the same Idempotency-Key returns the first result, storing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.tokens import bearer
from tests.tickets.helpers import RESIDENT, STAFF, posting, unit
from tests.tickets.ticketing.ticket_helpers import GRID_WORKER, request


def _head(tickets: TestClient) -> int:
    return int(tickets.get("/ops/relay").json()["head"])


def test_a_retried_posting_returns_the_first_wish_and_stores_nothing_new(
    tickets: TestClient,
) -> None:
    headers = {**RESIDENT, "Idempotency-Key": "post-1"}
    first = tickets.post("/wishes", json=posting(), headers=headers)
    head = _head(tickets)
    again = tickets.post("/wishes", json=posting(), headers=headers)
    assert again.status_code == first.status_code == 201
    assert again.json()["wish"] == first.json()["wish"]
    assert _head(tickets) == head


def test_a_retried_losing_claim_is_refused_again_without_a_second_refusal(
    tickets: TestClient,
) -> None:
    wish_id = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
    tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
    tickets.post(f"/wishes/{wish_id}/claims", json={"unit_id": "a"}, headers=unit("a"))
    headers = {**unit("b"), "Idempotency-Key": "claim-b"}
    first = tickets.post(f"/wishes/{wish_id}/claims", json={"unit_id": "b"}, headers=headers)
    head = _head(tickets)
    again = tickets.post(f"/wishes/{wish_id}/claims", json={"unit_id": "b"}, headers=headers)
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert _head(tickets) == head
    assert tickets.get(f"/wishes/{wish_id}").json()["refusals"] == 1


def test_reusing_a_key_for_a_different_request_is_refused(tickets: TestClient) -> None:
    headers = {**RESIDENT, "Idempotency-Key": "post-2"}
    tickets.post("/wishes", json=posting(), headers=headers).raise_for_status()
    other = tickets.post("/wishes", json=posting(title="陪老人聊聊天"), headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "request.idempotency_key_reused"


def test_the_same_key_from_two_actors_means_two_commands(tickets: TestClient) -> None:
    key = {"Idempotency-Key": "shared"}
    one = tickets.post("/wishes", json=posting(), headers={**RESIDENT, **key})
    two = tickets.post(
        "/wishes",
        json=posting(),
        headers={**STAFF, **key},
    )
    assert one.json()["wish"]["id"] != two.json()["wish"]["id"]


def _dispute() -> dict[str, Any]:
    return {
        "district": "jinfeng", "street": "s01", "community": "c01", "kind": "neighbour",
        "summary": "楼上漏水，邻里协商不成",
        "parties": [{"person_id": "person-1", "name": "王秀兰"},
                    {"person_id": "person-2", "name": "李建国"}],
    }  # fmt: skip


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_retried_command_answers_byte_for_byte_what_it_answered_first(
    tickets: TestClient,
) -> None:
    mediator = bearer("sec-1", "community_secretary")
    for n, (path, body, headers) in enumerate(
        [("/wishes", posting(), RESIDENT), ("/tickets", request(), RESIDENT),
         ("/disputes", _dispute(), mediator)]
    ):  # fmt: skip
        keyed = {**headers, "Idempotency-Key": f"retry-{n}"}
        first = tickets.post(path, json=body, headers=keyed)
        tickets.post(path, json=body, headers=headers).raise_for_status()  # others write between
        again = tickets.post(path, json=body, headers=keyed)

        assert first.status_code == again.status_code == 201, first.text
        assert first.json()["position"] > 0
        assert again.content == first.content
    ticket_id = tickets.post("/tickets", json=request(), headers=RESIDENT).json()["ticket"]["id"]
    triage = ({"category": "noise"}, {**GRID_WORKER, "Idempotency-Key": "triage-1"})
    first = tickets.post(f"/tickets/{ticket_id}/triage", json=triage[0], headers=triage[1])
    again = tickets.post(f"/tickets/{ticket_id}/triage", json=triage[0], headers=triage[1])
    assert first.status_code == again.status_code == 200, first.text
    assert again.content == first.content


@pytest.mark.parametrize(
    "other",
    [
        bearer("desk-1", "community_staff", scope={"district": "jinfeng", "street": "s02",
                                                   "community": "c02"}),
        bearer("desk-1", "resident", person="person-9"),
    ],
    ids=["another community", "another role"],
)  # fmt: skip
def test_a_retry_by_a_caller_of_the_same_name_but_another_authority_is_checked_not_answered(
    tickets: TestClient, other: dict[str, str]
) -> None:
    key = {"Idempotency-Key": "retry-1"}
    first = bearer("desk-1", "community_staff")  # c01's staff
    posted = tickets.post("/wishes", json=posting(), headers={**first, **key})
    assert posted.status_code == 201, posted.text
    head = _head(tickets)

    replayed = tickets.post("/wishes", json=posting(), headers={**other, **key})

    assert replayed.status_code == 403, replayed.text
    assert _head(tickets) == head
    again = tickets.post("/wishes", json=posting(), headers={**first, **key})
    assert again.json()["wish"] == posted.json()["wish"]
