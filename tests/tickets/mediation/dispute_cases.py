"""Dispute actors, requests and states for the tests, and one policy-matrix case per endpoint.

Disputes lie at jinfeng/s01/c01 grid g01; the parties are person-1 (the matrix's resident, and
the applicant) and person-2.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.support.matrix import Case
from tests.support.tokens import bearer

MEDIATOR = bearer("mediator-1", "mediator")
SECRETARY = bearer("sec-1", "community_secretary")
RESIDENT = bearer("resident-1", "resident", person="person-1")
PARTIES = ("person-1", "person-2")
MINUTES = "MINUTES-zq81: 张家同意把电动车棚后移两米"
AGREEMENT = "AGREEMENT-kx27: 双方签署调解协议"
SUMMARY = "SUMMARY-wd55: 邻里因车棚占道发生纠纷"
STAGES = {"filed": 0, "mediating": 1, "requested": 1, "staffed": 2, "consented": 4, "held": 5,
          "agreed": 6}  # fmt: skip
"""How many of `new_dispute`'s steps bring a dispute to each stage."""


def filing(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "district": "jinfeng",
        "street": "s01",
        "community": "c01",
        "grid": "g01",
        "kind": "neighbour",
        "parties": [
            {"person_id": "person-1", "name": "王秀兰", "phone": "13812345678"},
            {"person_id": "person-2", "name": "张建国", "phone": "13987654321"},
        ],
        "summary": SUMMARY,
    }
    body.update(changes)
    return body


def act(
    client: TestClient, dispute_id: str, path: str, body: Any = None, headers: Any = None
) -> Any:
    """POST a step as the mediator (unless told otherwise); returns the dispute snapshot."""
    response = client.post(f"/disputes/{dispute_id}/{path}", json=body, headers=headers or MEDIATOR)
    assert response.status_code < 300, response.text
    return response.json()["dispute"]


def new_dispute(client: TestClient, upto: str = "filed") -> str:
    """A dispute filed by person-1 and brought to a stage of `STAGES`, or "requested" (an
    extension awaiting consent)."""
    response = client.post("/disputes", json=filing(), headers=RESIDENT)
    assert response.status_code == 201, response.text
    dispute_id: str = response.json()["dispute"]["id"]
    steps: list[tuple[str, Any, Any]] = [
        ("acceptance", None, MEDIATOR),
        ("mediators", {"mediator_id": "mediator-1", "kind": "team_member"}, SECRETARY),
        ("parties/person-1/consent", None, RESIDENT),
        ("parties/person-2/consent", None, MEDIATOR),
        ("sessions", {"mode": "video", "minutes": MINUTES}, MEDIATOR),
        ("agreement", {"text": AGREEMENT}, MEDIATOR),
    ]
    for path, body, headers in steps[: STAGES[upto]]:
        act(client, dispute_id, path, body, headers)
    if upto == "requested":
        act(client, dispute_id, "extension-requests", {"due_at": later(40)})
    return dispute_id


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _on(upto: str, suffix: str, body: Any = None) -> Callable[[TestClient], dict[str, Any]]:
    def prepare(tickets: TestClient) -> dict[str, Any]:
        return {"url": f"/disputes/{new_dispute(tickets, upto)}{suffix}", "json": body}

    return prepare


def _case(method: str, suffix: str, action: str, upto: str, body: Any = None) -> Case:
    template = "/disputes/{dispute_id}" + suffix.replace("person-1", "{party_id}")
    return Case(method, template, action,
                _on(upto, suffix.replace("{session}", "1"), body))  # fmt: skip


def _filing(_: TestClient) -> dict[str, Any]:
    return {"url": "/disputes", "json": filing()}


DISPUTE_CASES: list[Case] = [
    Case("POST", "/disputes", "dispute.file", _filing),
    _case("GET", "", "dispute.read", "filed"),
    _case("POST", "/acceptance", "dispute.decide", "filed"),
    _case("POST", "/decline", "dispute.decide", "filed", {"reason": "not_mediable"}),
    _case(
        "POST",
        "/mediators",
        "dispute.assign",
        "mediating",
        {"mediator_id": "lawyer-1", "kind": "lawyer"},
    ),
    _case("POST", "/parties/person-1/consent", "dispute.consent", "mediating"),
    _case("POST", "/parties/person-1/refusal", "dispute.consent", "mediating"),
    _case(
        "POST",
        "/sessions",
        "dispute.mediate",
        "consented",
        {"mode": "in_person", "minutes": MINUTES},
    ),
    _case("GET", "/sessions/{session}", "dispute.read", "held"),
    _case("POST", "/agreement", "dispute.mediate", "held", {"text": AGREEMENT}),
    _case("GET", "/agreement", "dispute.read", "agreed"),
    _case("POST", "/referral", "dispute.decide", "mediating", {"to": "court"}),
    _case("POST", "/follow-ups", "dispute.mediate", "agreed", {"holding": True}),
    _case("POST", "/breach", "dispute.mediate", "agreed"),
    _case("POST", "/extension-requests", "dispute.extend", "mediating", {"due_at": later(45)}),
    _case("POST", "/extension-requests/consents/person-1", "dispute.consent", "requested"),
]
