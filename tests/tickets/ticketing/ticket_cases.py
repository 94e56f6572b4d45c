"""The policy matrix's cases for the ticket and visit endpoints (one per endpoint)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from events.envelope import Role
from services.runtime.policy import POLICY
from tests.conftest import eventually
from tests.support.matrix import Case
from tests.support.tokens import bearer, token
from tests.tickets.ticketing.ticket_helpers import RESIDENT, SECRETARY, request

UNIT = "unit-m"
_HANDLER = {"handler_id": UNIT}
_STEPS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("triaged", "triage", {"category": "flying_wire_charging"}),
    ("dispatched", "dispatch", {**_HANDLER, "handler_kind": "unit"}),
    ("accepted", "acceptance", _HANDLER),
    ("on_hold", "hold", {**_HANDLER, "reason": "weather"}),
    ("reported", "resolution", _HANDLER),
    ("verified", "verification", {"passed": True}),
]


def ticket_at(tickets: TestClient, upto: str) -> str:
    """A ticket at c01/g01 (building b001) from person-1, brought to a state; handled by unit-m."""
    answer = tickets.post("/tickets", json=request(), headers=RESIDENT)
    answer.raise_for_status()
    ticket_id: str = answer.json()["ticket"]["id"]
    unit = {"Authorization": _unit_header()}
    for state, path, body in _STEPS:
        if upto == "received":
            break
        if state == "on_hold" and upto != "on_hold":
            continue
        headers = SECRETARY if path in ("triage", "dispatch", "verification") else unit
        tickets.post(f"/tickets/{ticket_id}/{path}", json=body, headers=headers).raise_for_status()
        if state == upto:
            break
    return ticket_id


def _unit_header() -> str:
    return f"Bearer {token(f'{UNIT}-staff', 'unit_staff', unit=UNIT)}"


def _on(upto: str, path: str, body: Any = None) -> Callable[[TestClient], dict[str, Any]]:
    def prepare(tickets: TestClient) -> dict[str, Any]:
        suffix = f"/{path}" if path else ""
        return {"url": f"/tickets/{ticket_at(tickets, upto)}{suffix}", "json": body}

    return prepare


def _merge(tickets: TestClient) -> dict[str, Any]:
    first, duplicate = ticket_at(tickets, "received"), ticket_at(tickets, "received")
    return {"url": f"/tickets/{duplicate}/merge", "json": {"into_ticket_id": first}}


def _listing(tickets: TestClient) -> dict[str, Any]:
    """A new ticket, once the (lagging) ticket view lists it."""
    ticket_id, url = ticket_at(tickets, "received"), "/tickets?district=jinfeng&community=c01"

    def listed() -> bool:
        items = tickets.get(url, headers=SECRETARY).json()["items"]
        return ticket_id in {row["ticket_id"] for row in items}

    eventually(listed)
    return {"url": url, "json": None}


def _listed_inside_only(role: Role, where: str, response: Any) -> bool:
    """Allowed roles inside see the c01 ticket; outside, a refusal or a list without it."""
    if role not in POLICY["ticket.read"].roles:
        return bool(response.status_code == 403)
    if where == "inside":
        return response.status_code == 200 and bool(response.json()["items"])
    return response.status_code == 403 or (
        response.status_code == 200 and not response.json()["items"]
    )


_VISIT = {
    "district": "jinfeng", "street": "s01", "community": "c01", "grid": "g01",
    "building": "b001", "households": 3, "findings": [{"title": "楼道灯不亮",
    "category": "lighting"}],
}  # fmt: skip


def _visit_notes(tickets: TestClient) -> dict[str, Any]:
    visit = tickets.post(
        "/visits",
        json={**_VISIT, "notes": "独居老人", "household_ids": ["person-9"]},
        headers=SECRETARY,
    )
    visit.raise_for_status()
    return {"url": f"/visits/{visit.json()['visit_id']}?reason=回访核实", "json": None}


def _new_grid(_: TestClient) -> dict[str, Any]:
    return {"url": "/territory/jinfeng/c01/grids", "json": {"grid": f"g-{uuid.uuid4().hex[:8]}"}}


def _move(tickets: TestClient) -> dict[str, Any]:
    grid = f"g-{uuid.uuid4().hex[:8]}"
    district = bearer("official-m", "district_official", scope={"district": "jinfeng"})
    tickets.post("/territory/jinfeng/c01/grids", json={"grid": grid}, headers=district)
    return {"url": "/territory/jinfeng/c01/buildings/b002/move", "json": {"to_grid": grid}}


TICKET_CASES = [
    Case("POST", "/tickets", "ticket.receive", lambda _: {"url": "/tickets", "json": request()}),
    Case("GET", "/tickets", "ticket.read", _listing, expect=_listed_inside_only),
    Case("GET", "/tickets/{ticket_id}", "ticket.read", _on("received", "")),
    Case("POST", "/tickets/{ticket_id}/triage", "ticket.triage",
         _on("received", "triage", {"category": "lighting"})),
    Case("POST", "/tickets/{ticket_id}/merge", "ticket.triage", _merge),
    Case("POST", "/tickets/{ticket_id}/dispatch", "ticket.dispatch",
         _on("triaged", "dispatch", _HANDLER)),
    Case("POST", "/tickets/{ticket_id}/acceptance", "ticket.handle",
         _on("dispatched", "acceptance", _HANDLER)),
    Case("POST", "/tickets/{ticket_id}/return", "ticket.handle",
         _on("dispatched", "return", {**_HANDLER, "reason": "other"})),
    Case("POST", "/tickets/{ticket_id}/work", "ticket.handle",
         _on("accepted", "work", _HANDLER)),
    Case("POST", "/tickets/{ticket_id}/hold", "ticket.handle",
         _on("accepted", "hold", {**_HANDLER, "reason": "weather"})),
    Case("POST", "/tickets/{ticket_id}/resumption", "ticket.handle",
         _on("on_hold", "resumption", _HANDLER)),
    Case("POST", "/tickets/{ticket_id}/resolution", "ticket.handle",
         _on("accepted", "resolution", {**_HANDLER, "amount": "10"})),
    Case("POST", "/tickets/{ticket_id}/verification", "ticket.verify",
         _on("reported", "verification", {"passed": True})),
    Case("POST", "/tickets/{ticket_id}/rating", "ticket.rate",
         _on("verified", "rating", {"rating": 4})),
    Case("POST", "/tickets/{ticket_id}/closure", "ticket.close",
         _on("verified", "closure", {"fixed": True})),
    Case("POST", "/visits", "visit.record", lambda _: {"url": "/visits", "json": _VISIT}),
    Case("GET", "/visits/{visit_id}", "visit.read", _visit_notes),
    Case("GET", "/territory/{district}/{community}", "territory.read",
         lambda _: {"url": "/territory/jinfeng/c01", "json": None}),
    Case("GET", "/rules/{district}", "territory.read",
         lambda _: {"url": "/rules/jinfeng", "json": None}),
    Case("POST", "/territory/{district}/{community}/grids", "territory.change", _new_grid),
    Case("POST", "/territory/{district}/{community}/buildings/{building}/move",
         "territory.change", _move),
]  # fmt: skip
