"""Shared parts of the policy matrix: actors per role and territory, and the `Case` shape.

Each capability's cases live beside its tests and are gathered by
`tests/runtime/test_policy_matrix.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from events.envelope import Role
from services.runtime.policy import POLICY
from tests.support.tokens import bearer
from tests.tickets.helpers import RESIDENT, STAFF, posting, unit

GRID_ROLES = {Role.GRID_WORKER, Role.BUILDING_CHIEF}
HOME = {"district": "jinfeng", "street": "s01", "community": "c01"}
AWAY = {"district": "jinfeng", "street": "s01", "community": "c02"}


def scopes(role: Role) -> dict[str, dict[str, str]]:
    """A scope that contains the test wish (c01, grid g01) and one that does not."""
    if role in (Role.OPERATOR, Role.AUDITOR, Role.SYSTEM):
        return {"inside": {}, "outside": {"district": "elsewhere"}}
    if role is Role.DISTRICT_OFFICIAL:
        return {"inside": {"district": "jinfeng"}, "outside": {"district": "elsewhere"}}
    if role is Role.STREET_OFFICIAL:
        return {"inside": {"district": "jinfeng", "street": "s01"},
                "outside": {"district": "jinfeng", "street": "s02"}}  # fmt: skip
    if role in GRID_ROLES:
        return {"inside": {**HOME, "grid": "g01"}, "outside": {**HOME, "grid": "g02"}}
    return {"inside": HOME, "outside": AWAY}


def actor(role: Role, scope: dict[str, str]) -> dict[str, str]:
    extra: dict[str, str] = {}
    if role is Role.RESIDENT:
        extra["person"] = "person-1"
    if role in (Role.UNIT_STAFF, Role.VOLUNTEER):
        extra["unit"] = "unit-m"  # a volunteer's team
    return bearer(f"{role.value}-x", role.value, scope=scope, **extra)


def allowed(action: str, role: Role, where: str) -> bool:
    rule = POLICY[action]
    territorial = not rule.public and not action.startswith("ops.")
    return role in rule.roles and (where == "inside" or not territorial)


def new_wish(tickets: TestClient, upto: str, **changes: Any) -> str:
    """A wish at c01/g01 brought to a state; claims are held by `unit-m`."""
    wish_id: str = tickets.post("/wishes", json=posting(**changes), headers=RESIDENT).json()[
        "wish"
    ]["id"]
    steps = [
        ("open", f"/wishes/{wish_id}/verification", None, STAFF),
        ("claimed", f"/wishes/{wish_id}/claims", {"unit_id": "unit-m"}, unit("unit-m")),
        ("reported", f"/wishes/{wish_id}/fulfilment", {"unit_id": "unit-m"}, unit("unit-m")),
        ("fulfilled", f"/wishes/{wish_id}/fulfilment/verification", None, STAFF),
    ]
    for state, path, body, headers in steps:
        if upto == "submitted":
            break
        tickets.post(path, json=body, headers=headers).raise_for_status()
        if state == upto:
            break
    return wish_id


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    action: str
    prepare: Callable[[TestClient], dict[str, Any]]
    """Makes the target; returns the request's `url` and `json`."""
    service: str = "tickets"
    filtered: bool = False
    """A listing that answers with only what lies inside the caller's territory."""
    expect: Callable[[Role, str, Any], bool] | None = None
    """Judges (role, inside/outside, response) itself, for answers the others cannot."""


def parked_cases(service: str) -> list[Case]:
    """`/ops/parked` of a service that consumes others' feeds: listed, read and retried."""

    def missing(action: str) -> Callable[..., bool]:
        return lambda role, where, response: (
            response.status_code == 404
            and response.json()["error"]["code"] == f"{service}.parked_not_found"
            if allowed(action, role, where)
            else response.status_code == 403
        )

    return [
        Case("GET", "/ops/parked", "ops.read", lambda _: {"url": "/ops/parked", "json": None},
             service),
        Case("GET", "/ops/parked/{parked_id}", "ops.read",
             lambda _: {"url": "/ops/parked/1", "json": None}, service, expect=missing("ops.read")),
        Case("POST", "/ops/parked/{parked_id}/retry", "ops.repair",
             lambda _: {"url": "/ops/parked/1/retry", "json": None}, service,
             expect=missing("ops.repair")),
    ]  # fmt: skip
