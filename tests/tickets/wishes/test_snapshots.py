"""A wish with a long history is loaded from its snapshot (taken every 100 events): it decides
exactly as one replayed from its events. A snapshot stores the state as JSON, which used to
give the claim mode back as a plain string: every later claim was a 500, and an exclusive
wish refused with the joint wish's reason."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.units import enrol
from tests.tickets.helpers import STAFF, posting, unit

REFUSED = 100
"""Refused claims: enough events for a snapshot."""


def _open_wish(tickets: TestClient, **changes: object) -> str:
    posted = tickets.post("/wishes", json=posting(**changes), headers=STAFF)
    assert posted.status_code == 201, posted.text
    wish_id: str = posted.json()["wish"]["id"]
    tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
    return wish_id


def _claim(tickets: TestClient, wish_id: str, unit_id: str) -> tuple[int, dict[str, object]]:
    answer = tickets.post(
        f"/wishes/{wish_id}/claims", json={"unit_id": unit_id}, headers=unit(unit_id)
    )
    return answer.status_code, answer.json()


def _enrol_refused(tickets: TestClient) -> None:
    """The units whose claims are refused are members all the same: refused for the wish."""
    roster = tickets.app.state.tickets.units  # type: ignore[attr-defined]
    enrol(roster, [f"unit-r{n}" for n in range(REFUSED + 5)])


def test_a_joint_wish_past_its_snapshot_takes_a_claim_after_a_release(
    tickets: TestClient,
) -> None:
    _enrol_refused(tickets)
    wish_id = _open_wish(tickets, claim_mode="joint", quota=2)
    assert _claim(tickets, wish_id, "unit-a")[0] == 201
    assert _claim(tickets, wish_id, "unit-b")[0] == 201
    for n in range(REFUSED):
        assert _claim(tickets, wish_id, f"unit-r{n}")[0] == 409
    released = tickets.post(
        f"/wishes/{wish_id}/claims/unit-a/release", json={"reason": "other"}, headers=unit("unit-a")
    )
    assert released.status_code == 200, released.text

    status, body = _claim(tickets, wish_id, "unit-c")

    assert status == 201, body
    wish = tickets.get(f"/wishes/{wish_id}", headers=STAFF).json()
    assert sorted(wish["claimants"]) == ["unit-b", "unit-c"]
    assert wish["claim_mode"] == "joint"


def test_an_exclusive_wish_past_its_snapshot_still_refuses_as_already_claimed(
    tickets: TestClient,
) -> None:
    _enrol_refused(tickets)
    wish_id = _open_wish(tickets)
    assert _claim(tickets, wish_id, "unit-a")[0] == 201
    reasons = set()
    for n in range(REFUSED + 5):
        status, body = _claim(tickets, wish_id, f"unit-r{n}")
        assert status == 409, body
        reasons.add(body["error"]["reason"])  # type: ignore[index]

    assert reasons == {"already_claimed"}
