"""Actors and requests for the ticket tests (jinfeng/s01/c01, grid g01 of the demo territory)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.tokens import bearer

GRID = {"district": "jinfeng", "street": "s01", "community": "c01", "grid": "g01"}
GRID_WORKER = bearer("gw-1", "grid_worker", scope=GRID)
SECRETARY = bearer("sec-1", "community_secretary")
RESIDENT = bearer("resident-1", "resident", person="person-1")


def handler(unit_id: str = "unit-a") -> dict[str, str]:
    return bearer(f"{unit_id}-staff", "unit_staff", unit=unit_id)


def request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "district": "jinfeng",
        "street": "s01",
        "community": "c01",
        "building": "b001",
        "channel": "chat_group",
        "requester_id": "person-1",
        "title": "楼道飞线充电",
        "description": "三楼有人从窗户拉线给电动车充电",
        "contact": {"name": "王秀兰", "phone": "13812345678"},
    }
    body.update(changes)
    return body


def step(client: TestClient, ticket_id: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = client.post(f"/tickets/{ticket_id}/{path}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["ticket"]


def received(client: TestClient, **changes: Any) -> str:
    response = client.post("/tickets", json=request(**changes), headers=RESIDENT)
    assert response.status_code == 201, response.text
    ticket_id: str = response.json()["ticket"]["id"]
    return ticket_id


def dispatched(client: TestClient, category: str = "flying_wire_charging") -> str:
    ticket_id = received(client)
    step(client, ticket_id, "triage", {"category": category}, GRID_WORKER)
    step(
        client, ticket_id, "dispatch", {"handler_id": "unit-a", "handler_kind": "unit"}, GRID_WORKER
    )
    return ticket_id
