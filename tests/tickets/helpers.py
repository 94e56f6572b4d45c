"""Request helpers for the wish tests: actors as bearer tokens, a sample posting."""

from __future__ import annotations

from typing import Any

from tests.support.tokens import bearer

RESIDENT = bearer("resident-1", "resident", person="person-1")
STAFF = bearer("staff-1", "community_staff")
OPERATOR = bearer("operator-1", "operator", scope={})


def unit(unit_id: str) -> dict[str, str]:
    return bearer(f"{unit_id}-staff", "unit_staff", unit=unit_id)


def posting(**changes: Any) -> dict[str, Any]:
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
    return body


def in_community(community: str) -> dict[str, dict[str, str]]:
    """Resident, staff and unit headers for actors of another community of the district."""
    scope = {"district": "jinfeng", "street": "s01", "community": community}
    return {
        "resident": bearer("resident-1", "resident", scope=scope, person="person-1"),
        "staff": bearer(f"staff-{community}", "community_staff", scope=scope),
        **{u: bearer(f"{u}-staff", "unit_staff", scope=scope, unit=u) for u in ("a", "b", "c")},
    }
