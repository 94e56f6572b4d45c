"""The five-indicator evaluation (红墙同心): opened per period, scored with evidence, appealed,
closed; the closed score feeds matching. And each unit's reciprocity balance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from events.evaluations import Indicator, period_dates
from services.matching.main import create_app
from tests.conftest import OFFLINE_BUS, MovableClock, eventually, memory_store
from tests.support.matching import (
    STAFF,
    Feeds,
    enrolled,
    matching_settings,
    offer,
    proposals,
    unit_staff,
)
from tests.support.tokens import bearer

STREET = bearer("street-1", "street_official", scope={"district": "jinfeng", "street": "s01"})
Q4 = "/units/unit-a/evaluations/2026-Q4"


def _score(matching: TestClient, indicator: Indicator, points: int, **extra: Any) -> Any:
    body = {"indicator": indicator.value, "points": points, **extra}
    return matching.post(f"{Q4}/scores", json=body, headers=STREET)


def test_quarters_halves_and_years_have_their_first_and_last_days() -> None:
    assert [str(d) for d in period_dates("2026-Q4")] == ["2026-10-01", "2026-12-31"]
    assert [str(d) for d in period_dates("2026-Q1")] == ["2026-01-01", "2026-03-31"]
    assert [str(d) for d in period_dates("2026-H1")] == ["2026-01-01", "2026-06-30"]
    assert [str(d) for d in period_dates("2026-Y")] == ["2026-01-01", "2026-12-31"]


def test_a_period_is_scored_with_evidence_appealed_rescored_and_closed_with_its_total(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    opened = matching.post("/units/unit-a/evaluations", json={"period": "2026-Q4"}, headers=STREET)
    assert opened.status_code == 201, opened.text
    again = matching.post("/units/unit-a/evaluations", json={"period": "2026-Q4"}, headers=STREET)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "evaluation.already_open")
    evidence = [{"kind": "entry", "reference": "att-2026-118.pdf", "note": "党建共建活动4次"}]
    assert _score(matching, Indicator.PARTY_BUILDING, 18, evidence=evidence).is_success
    early = matching.post(f"{Q4}/closure", headers=STREET)
    assert (early.status_code, early.json()["error"]["code"]) == (422, "evaluation.incomplete")
    appeal = {"grounds": "安全稳定指标漏计了两次消防演练"}
    appealed = matching.post(f"{Q4}/appeal", json=appeal, headers=unit_staff("unit-a"))
    assert appealed.json()["evaluation"]["state"] == "appealed"
    for indicator, points in zip(Indicator, (18, 16, 15, 19, 20), strict=True):
        assert _score(matching, indicator, points).is_success
    closed = matching.post(f"{Q4}/closure", headers=STREET).json()["evaluation"]
    assert (closed["state"], closed["total"]) == ("closed", 88)
    assert closed["evidence"]["party_building"] == []  # the latest scoring's evidence
    assert _score(matching, Indicator.ENVIRONMENT, 1).status_code == 409
    shown = matching.get(Q4, headers=unit_staff("unit-a")).json()
    assert shown["scores"]["public_welfare"] == 20


def test_only_the_unit_itself_appeals_and_community_staff_do_not_score(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    matching.post("/units/unit-a/evaluations", json={"period": "2026-Q4"}, headers=STREET)
    _score(matching, Indicator.ENVIRONMENT, 10).raise_for_status()
    other = matching.post(f"{Q4}/appeal", json={"grounds": "不同意评分"},
                          headers=unit_staff("unit-b"))  # fmt: skip
    assert other.status_code == 403
    staff = matching.post(f"{Q4}/scores", json={"indicator": "environment", "points": 20})
    assert staff.status_code == 403


def test_the_closed_score_feeds_matching_and_the_balance_counts_what_a_unit_gave(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    offer(matching, "unit-a", {"category": "parking", "title": "车位", "capacity": 10})
    matching.post("/units/unit-a/evaluations", json={"period": "2026-Q4"}, headers=STREET)
    for indicator in Indicator:
        _score(matching, indicator, 19).raise_for_status()
    matching.post(f"{Q4}/closure", headers=STREET).raise_for_status()
    ticket = str(Feeds(matching).triaged_ticket(category="parking"))
    [found] = eventually(lambda: [p for p in proposals(matching) if p["need_id"] == ticket])
    evaluation = next(r for r in found["reasons"] if r["code"] == "evaluation")
    assert evaluation["en"] == "evaluation score 95"
    match = f"/matches/{found['match_id']}"
    matching.post(f"{match}/acceptance", json={"by": "community"}).raise_for_status()
    matching.post(f"{match}/acceptance", json={"by": "unit"}).raise_for_status()
    matching.post(f"{match}/delivery").raise_for_status()
    balance = eventually(
        lambda: (b := matching.get("/units/unit-a/balance").json())["given"] == 1 and b
    )
    assert (balance["gave"], balance["got"], balance["evaluation"]) == ({"parking": 1}, 0, 95)


def _closed(matching: TestClient, period: str, points: int) -> None:
    path = f"/units/unit-a/evaluations/{period}"
    matching.post("/units/unit-a/evaluations", json={"period": period},
                  headers=STREET).raise_for_status()  # fmt: skip
    for indicator in Indicator:
        body = {"indicator": indicator.value, "points": points}
        matching.post(f"{path}/scores", json=body, headers=STREET).raise_for_status()
    matching.post(f"{path}/closure", headers=STREET).raise_for_status()


def test_a_late_closure_of_an_earlier_period_does_not_replace_the_latest_score(
    matching: TestClient,
) -> None:
    enrolled(matching, "unit-a")
    _closed(matching, "2026-Q4", 19)
    assert eventually(lambda: matching.get("/units/unit-a/balance").json()["evaluation"] == 95)
    _closed(matching, "2026-Q3", 10)  # closed late, after Q4's
    _closed(matching, "2026-Q2", 12)
    assert eventually(lambda: matching.get("/units/unit-a/balance").json()["evaluation"] == 95)
    _closed(matching, "2027-Q1", 15)
    assert eventually(lambda: matching.get("/units/unit-a/balance").json()["evaluation"] == 75)


def test_a_match_is_evidence_for_the_period_it_was_delivered_in_though_rated_in_the_next() -> None:
    clock = MovableClock()
    clock.offset = datetime(2026, 12, 30, 10, tzinfo=UTC) - datetime.now(UTC)
    settings = matching_settings(OFFLINE_BUS, memory_store(), relay_enabled=False)
    with TestClient(create_app(settings, clock=clock), headers=STAFF) as matching:
        enrolled(matching, "unit-a")
        offer(matching, "unit-a", {"category": "parking", "title": "车位", "capacity": 10})
        ticket = str(Feeds(matching).triaged_ticket(category="parking"))
        [found] = eventually(lambda: [p for p in proposals(matching) if p["need_id"] == ticket])
        match = f"/matches/{found['match_id']}"
        for step, body in (("acceptance", {"by": "community"}), ("acceptance", {"by": "unit"}),
                           ("delivery", None)):  # fmt: skip
            matching.post(f"{match}/{step}", json=body).raise_for_status()
        clock.advance(timedelta(days=5))  # into 2027
        matching.post(f"{match}/confirmation").raise_for_status()
        matching.post(f"{match}/rating", json={"rating": 5}).raise_for_status()
        for period in ("2026-Q4", "2027-Q1"):
            opened = matching.post("/units/unit-a/evaluations", json={"period": period},
                                   headers=STREET)  # fmt: skip
            assert opened.status_code == 201, opened.text

        def evidence(period: str) -> list[str]:
            found = matching.get(f"/units/unit-a/evaluations/{period}/evidence", headers=STREET)
            return [m["match_id"] for m in found.json()]

        assert eventually(lambda: evidence("2026-Q4") == [found["match_id"]])
        assert evidence("2027-Q1") == []
