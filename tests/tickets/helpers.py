"""Request helpers for the wish tests: actors as bearer tokens, a sample posting, all in the
demo district's territory (c01, c09, … lie in street s01; c02 in s02)."""

from __future__ import annotations

from typing import Any

import httpx

from shiliu.demo import communities
from tests.support.tokens import bearer

RESIDENT = bearer("resident-1", "resident", person="person-1")
STAFF = bearer("staff-1", "community_staff")
OPERATOR = bearer("operator-1", "operator", scope={})


def unit(unit_id: str) -> dict[str, str]:
    return bearer(f"{unit_id}-staff", "unit_staff", unit=unit_id)


def street_of(community: str) -> str:
    """The demo district's street of `community`; s01 for a community it does not have."""
    return next((c.street for c in communities() if c.code == community), "s01")


def posting(**changes: Any) -> dict[str, Any]:
    """A wish at jinfeng/c01/g01; a changed community brings its own street unless told."""
    body: dict[str, Any] = {
        "district": "jinfeng",
        "street": "s01",
        "community": "c01",
        "grid": "g01",
        "resident_id": "person-1",
        "title": "吃一顿热腾腾的饺子",
        "category": "meal",
        "claim_mode": "exclusive",
        "quota": 1,
        "contact": {"name": "王秀兰", "phone": "13812345678", "address": "3号楼2单元101"},
        "details": "独居老人，腿脚不便",
    }
    body.update(changes)
    if "community" in changes and "street" not in changes:
        body["street"] = street_of(body["community"])
    return body


def in_community(community: str) -> dict[str, dict[str, str]]:
    """Resident, staff and unit headers for actors of another community of the district; its
    units `a`, `b`, `c` are `community_unit(community, …)`, enrolled by `enrol_units`."""
    scope = {"district": "jinfeng", "street": street_of(community), "community": community}
    return {
        "resident": bearer("resident-1", "resident", scope=scope, person="person-1"),
        "staff": bearer(f"staff-{community}", "community_staff", scope=scope),
        **{u: bearer(f"{u}-staff", "unit_staff", scope=scope, unit=community_unit(community, u))
           for u in ("a", "b", "c")},
    }  # fmt: skip


def community_unit(community: str, unit_id: str) -> str:
    """A test unit of `community`: c01's are the enrolled test units themselves."""
    return unit_id if community == "c01" else f"{unit_id}-{community}"


def assert_unknown_place(response: httpx.Response, field: str) -> None:
    """A 422 naming `field` as a place the territory does not have."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "territory.unknown_place", response.text
    assert error["fields"][0]["field"] == field, response.text
