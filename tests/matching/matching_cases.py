"""The policy matrix's cases for the matching service's endpoints (one per endpoint). Unit
staff in the matrix act for `unit-m`, registered and enrolled in c01 on first use."""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import eventually
from tests.support.matching import STAFF, Feeds, offer, proposals
from tests.support.matrix import Case, allowed
from tests.support.tokens import bearer

UNIT = "unit-m"
TERMS = {"category": "venue", "title": "100座会议室", "capacity": 100, "capacity_unit": "seats"}


def _fresh(matching: TestClient, *steps: tuple[str, Any]) -> str:
    unit_id = f"unit-{uuid.uuid4().hex[:10]}"
    body = {"unit_id": unit_id, "name": "共建单位", "kind": "company", "district": "jinfeng",
            "community": "c01"}  # fmt: skip
    matching.post("/units", json=body, headers=STAFF).raise_for_status()
    for path, json in steps:
        matching.post(f"/units/{unit_id}{path}", json=json, headers=STAFF).raise_for_status()
    return unit_id


def _unit_m(matching: TestClient) -> str:
    if matching.get(f"/units/{UNIT}", headers=STAFF).status_code == 404:
        contact = {"name": "王小明", "phone": "13812345678"}
        body = {"unit_id": UNIT, "name": "矩阵单位", "kind": "school", "district": "jinfeng",
                "community": "c01", "contact": contact}  # fmt: skip
        matching.post("/units", json=body, headers=STAFF).raise_for_status()
        matching.post(f"/units/{UNIT}/alliance", headers=STAFF).raise_for_status()
    return UNIT


def _listing(matching: TestClient, *, paused: bool = False) -> str:
    body = {"side": "offer", "unit_id": _unit_m(matching), "district": "jinfeng",
            "community": "c01", "terms": TERMS}  # fmt: skip
    response = matching.post("/listings", json=body, headers=STAFF)
    response.raise_for_status()
    listing_id: str = response.json()["listing"]["listing_id"]
    if paused:
        matching.post(f"/listings/{listing_id}/pause", headers=STAFF).raise_for_status()
    return listing_id


def _on_unit(path: str, body: Any = None, *steps: tuple[str, Any]) -> Callable[..., Any]:
    def prepare(matching: TestClient) -> dict[str, Any]:
        return {"url": f"/units/{_fresh(matching, *steps)}{path}", "json": body}

    return prepare


def _on_listing(path: str, body: Any = None, *, paused: bool = False) -> Callable[..., Any]:
    def prepare(matching: TestClient) -> dict[str, Any]:
        return {"url": f"/listings/{_listing(matching, paused=paused)}{path}", "json": body}

    return prepare


def _fixed(url: str, body: Any = None) -> Callable[..., Any]:
    return lambda _: {"url": url, "json": body}


def _publishing(matching: TestClient) -> dict[str, Any]:
    body = {"side": "offer", "unit_id": _unit_m(matching), "district": "jinfeng",
            "community": "c01", "terms": TERMS}  # fmt: skip
    return {"url": "/listings", "json": body}


def _registering(_: TestClient) -> dict[str, Any]:
    body = {"unit_id": f"unit-{uuid.uuid4().hex[:10]}", "name": "新单位", "kind": "shop",
            "district": "jinfeng", "community": "c01"}  # fmt: skip
    return {"url": "/units", "json": body}


def _missing_parked(action: str) -> Callable[..., bool]:
    return lambda role, where, response: (
        response.status_code == 404 and response.json()["error"]["code"] == "relay.parked_not_found"
        if allowed(action, role, where)
        else response.status_code == 403
    )


PARKING = {"category": "parking", "title": "错峰停车位", "capacity": 1000}
_OFFERED: weakref.WeakSet[Any] = weakref.WeakSet()
"""The matching apps where unit-m's parking offer is listed."""


def _ticket_match(matching: TestClient, *steps: tuple[str, Any]) -> str:
    """A proposal of unit-m's parking offer for a new triaged ticket, taken through `steps`
    (by the community's staff, and for unit-m)."""
    _unit_m(matching)
    if matching.app not in _OFFERED:
        offer(matching, UNIT, PARKING)
        _OFFERED.add(matching.app)
    ticket_id = str(Feeds(matching).triaged_ticket(category="parking"))
    [match] = eventually(lambda: [p for p in proposals(matching) if p["need_id"] == ticket_id])
    match_id: str = match["match_id"]
    for path, body in steps:
        response = matching.post(f"/matches/{match_id}{path}", json=body, headers=STAFF)
        response.raise_for_status()
    return match_id


AGREED = (("/acceptance", {"by": "community"}), ("/acceptance", {"by": "unit"}))
DELIVERED = (*AGREED, ("/delivery", None))
CONFIRMED = (*DELIVERED, ("/confirmation", None))


def _on_match(path: str, body: Any = None, *steps: tuple[str, Any]) -> Callable[..., Any]:
    def prepare(matching: TestClient) -> dict[str, Any]:
        return {"url": f"/matches/{_ticket_match(matching, *steps)}{path}", "json": body}

    return prepare


def _finding(matching: TestClient) -> dict[str, Any]:
    match_id = _ticket_match(matching)
    need = matching.get(f"/matches/{match_id}", headers=STAFF).json()["need_id"]
    return {"url": f"/needs/ticket/{need}/matches", "json": None}


def _need(matching: TestClient) -> dict[str, Any]:
    match_id = _ticket_match(matching)
    need = matching.get(f"/matches/{match_id}", headers=STAFF).json()["need_id"]
    return {"url": f"/needs/ticket/{need}", "json": None}


def _by_hand(matching: TestClient) -> dict[str, Any]:
    match = matching.get(f"/matches/{_ticket_match(matching)}", headers=STAFF).json()
    return {"url": f"/needs/ticket/{match['need_id']}/matches",
            "json": {"listing_id": match["listing_id"]}}  # fmt: skip


def _street() -> dict[str, str]:
    """A street official of s01, a new one each time (the rate limit counts per actor)."""
    return bearer(f"street-{uuid.uuid4().hex[:8]}", "street_official",
                  scope={"district": "jinfeng", "street": "s01"})  # fmt: skip


INDICATORS = ("party_building", "safety_stability", "environment", "co_building_sharing",
              "public_welfare")  # fmt: skip


def _evaluation(matching: TestClient, *, scored: bool = False, unit: str = UNIT) -> str:
    """unit-m's evaluation of a fresh period, scored in one indicator (or all five)."""
    period = next(_PERIODS)
    street = _street()
    opened = matching.post(f"/units/{unit}/evaluations", json={"period": period}, headers=street)
    opened.raise_for_status()
    for indicator in INDICATORS if scored else INDICATORS[:1]:
        matching.post(f"/units/{unit}/evaluations/{period}/scores", headers=street,
                      json={"indicator": indicator, "points": 10}).raise_for_status()  # fmt: skip
    return f"/units/{unit}/evaluations/{period}"


_PERIODS = (f"{year}-{part}" for year in range(2000, 2100)
            for part in ("Q1", "Q2", "Q3", "Q4", "H1", "H2", "Y"))  # fmt: skip
"""Fresh periods for each evaluation the matrix opens."""


def _on_evaluation(path: str, body: Any = None, *, scored: bool = False) -> Callable[..., Any]:
    def prepare(matching: TestClient) -> dict[str, Any]:
        _unit_m(matching)
        return {"url": _evaluation(matching, scored=scored) + path, "json": body}

    return prepare


def _opening(matching: TestClient) -> dict[str, Any]:
    return {"url": f"/units/{_unit_m(matching)}/evaluations",
            "json": {"period": next(_PERIODS)}}  # fmt: skip


ENROLLED = ("/alliance", None)
SIGNED = ("/agreement", {"starts_on": "2026-01-01", "ends_on": "2026-12-31"})
M = "matching"
MATCHING_CASES: list[Case] = [
    Case("POST", "/units", "unit.register", _registering, M),
    Case("GET", "/units", "unit.read", _fixed("/units?district=jinfeng&community=c01"), M),
    Case("GET", "/units/{unit_id}", "unit.read", _on_unit(""), M),
    Case("GET", "/units/{unit_id}/contact", "unit.contact",
         lambda m: {"url": f"/units/{_unit_m(m)}/contact", "json": None}, M),
    Case("POST", "/units/{unit_id}/details", "unit.manage",
         _on_unit("/details", {"name": "改名单位", "kind": "school"}), M),
    Case("POST", "/units/{unit_id}/contact", "unit.manage",
         _on_unit("/contact", {"name": "李四", "phone": "13900001111"}), M),
    Case("POST", "/units/{unit_id}/alliance", "unit.manage", _on_unit("/alliance"), M),
    Case("POST", "/units/{unit_id}/suspension", "unit.manage",
         _on_unit("/suspension", {"reason": "complaints"}, ENROLLED), M),
    Case("POST", "/units/{unit_id}/reinstatement", "unit.manage",
         _on_unit("/reinstatement", None, ENROLLED, ("/suspension", {"reason": "inactive"})), M),
    Case("POST", "/units/{unit_id}/departure", "unit.manage",
         _on_unit("/departure", {"reason": "own_choice"}, ENROLLED), M),
    Case("POST", "/units/{unit_id}/agreement", "unit.manage",
         _on_unit("/agreement", {"starts_on": "2026-01-01", "ends_on": "2026-12-31"}), M),
    Case("POST", "/units/{unit_id}/agreement/renewal", "unit.manage",
         _on_unit("/agreement/renewal", {"ends_on": "2027-12-31"}, SIGNED), M),
    Case("POST", "/units/{unit_id}/agreement/end", "unit.manage",
         _on_unit("/agreement/end", {"how": "expired"}, SIGNED), M),
    Case("POST", "/listings", "listing.publish", _publishing, M),
    Case("GET", "/listings", "listing.read", _fixed("/listings?district=jinfeng"), M),
    Case("GET", "/listings/{listing_id}", "listing.read", _on_listing(""), M),
    Case("POST", "/listings/{listing_id}/changes", "listing.change",
         _on_listing("/changes", {"terms": {**TERMS, "capacity": 80}}), M),
    Case("POST", "/listings/{listing_id}/pause", "listing.change", _on_listing("/pause"), M),
    Case("POST", "/listings/{listing_id}/resumption", "listing.change",
         _on_listing("/resumption", paused=True), M),
    Case("POST", "/listings/{listing_id}/withdrawal", "listing.change",
         _on_listing("/withdrawal"), M),
    Case("GET", "/matches", "match.read",
         _fixed(f"/matches?district=jinfeng&community=c01&unit_id={UNIT}"), M),
    Case("GET", "/matches/{match_id}", "match.read", _on_match(""), M),
    Case("GET", "/needs", "match.find", _fixed("/needs?district=jinfeng&community=c01"), M),
    Case("GET", "/needs/{need_kind}/{need_id}", "match.find", _need, M),
    Case("GET", "/needs/{need_kind}/{need_id}/matches", "match.find", _finding, M),
    Case("POST", "/needs/{need_kind}/{need_id}/matches", "match.propose", _by_hand, M),
    Case("POST", "/matches/{match_id}/acceptance", "match.respond",
         _on_match("/acceptance", {"by": "unit"}), M),
    Case("POST", "/matches/{match_id}/decline", "match.respond",
         _on_match("/decline", {"by": "unit", "reason": "bad_timing"}), M),
    Case("POST", "/matches/{match_id}/cancellation", "match.respond",
         _on_match("/cancellation", {"by": "unit"}, *AGREED), M),
    Case("POST", "/matches/{match_id}/schedule", "match.respond",
         _on_match("/schedule", {"scheduled_for": "2026-12-12T09:00:00+08:00"}, *AGREED), M),
    Case("POST", "/matches/{match_id}/delivery", "match.respond",
         _on_match("/delivery", None, *AGREED), M),
    Case("POST", "/matches/{match_id}/confirmation", "match.confirm",
         _on_match("/confirmation", None, *DELIVERED), M),
    Case("POST", "/matches/{match_id}/rating", "match.confirm",
         _on_match("/rating", {"rating": 4}, *CONFIRMED), M),
    Case("POST", "/units/{unit_id}/evaluations", "evaluation.run", _opening, M),
    Case("GET", "/units/{unit_id}/evaluations/{period}", "evaluation.read", _on_evaluation(""), M),
    Case("GET", "/units/{unit_id}/evaluations/{period}/evidence", "evaluation.read",
         _on_evaluation("/evidence"), M),
    Case("POST", "/units/{unit_id}/evaluations/{period}/scores", "evaluation.run",
         _on_evaluation("/scores", {"indicator": "environment", "points": 12}), M),
    Case("POST", "/units/{unit_id}/evaluations/{period}/appeal", "evaluation.appeal",
         _on_evaluation("/appeal", {"grounds": "环境指标漏计"}), M),
    Case("POST", "/units/{unit_id}/evaluations/{period}/closure", "evaluation.run",
         _on_evaluation("/closure", scored=True), M),
    Case("GET", "/units/{unit_id}/balance", "unit.read",
         lambda m: {"url": f"/units/{_unit_m(m)}/balance", "json": None}, M),
    Case("GET", "/ops/relay", "ops.read", _fixed("/ops/relay"), M),
    Case("GET", "/ops/relay/parked", "ops.read", _fixed("/ops/relay/parked"), M),
    Case("POST", "/ops/relay/parked/{parked_id}/retry", "ops.repair",
         _fixed("/ops/relay/parked/1/retry"), M, expect=_missing_parked("ops.repair")),
]  # fmt: skip
