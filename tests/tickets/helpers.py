"""Request helpers for the wish tests: actors as headers, a sample posting."""

from __future__ import annotations

from typing import Any

RESIDENT = {"X-Actor-Id": "resident-1", "X-Actor-Role": "resident"}
STAFF = {"X-Actor-Id": "staff-1", "X-Actor-Role": "community_staff"}


def unit(unit_id: str) -> dict[str, str]:
    return {"X-Actor-Id": f"{unit_id}-staff", "X-Actor-Role": "unit_staff"}


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
