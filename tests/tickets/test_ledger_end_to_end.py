"""Tickets, visits and disputes through HTTP, seen by the ledger over a real nats-server."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from tests.conftest import eventually
from tests.tickets.mediation.dispute_cases import act, new_dispute
from tests.tickets.ticketing.ticket_helpers import (
    GRID_WORKER,
    RESIDENT,
    SECRETARY,
    dispatched,
    handler,
    step,
)

BOTH_STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
T = TypeVar("T")


def _when(ledger: TestClient, path: str, ready: Callable[[T], object]) -> T:
    def figures() -> T | None:
        answer: T = ledger.get(path).json()
        return answer if ready(answer) else None

    found: T = eventually(figures, timeout=20)
    return found


@pytest.mark.parametrize("stores", BOTH_STORES, indirect=True)
def test_fixed_and_not_fixed_tickets_and_a_proactive_one_add_up_in_the_ledger(
    tickets: TestClient, ledger: TestClient
) -> None:
    unit = handler("unit-a")
    fixed = dispatched(tickets)
    for path, body, who in [
        ("acceptance", {"handler_id": "unit-a"}, unit),
        ("work", {"handler_id": "unit-a"}, unit),
        ("resolution", {"handler_id": "unit-a", "amount": "1200.50"}, unit),
        ("verification", {"passed": True}, SECRETARY),
        ("rating", {"rating": 4}, RESIDENT),
    ]:
        step(tickets, fixed, path, body, who)
    not_fixed = dispatched(tickets)
    step(tickets, not_fixed, "closure", {"fixed": False}, SECRETARY)
    visit = tickets.post(
        "/visits",
        headers=GRID_WORKER,
        json={
            "district": "jinfeng",
            "street": "s01",
            "community": "c01",
            "grid": "g01",
            "households": 4,
            "findings": [{"title": "消防通道堆物", "category": "other"}],
        },
    )
    assert visit.status_code == 201, visit.text

    figures: dict[str, Any] = _when(
        ledger,
        "/ledger/jinfeng/c01/tickets",
        lambda f: f["tickets"] == 3 and f["closed_fixed"] == 1 and f["closed_not_fixed"] == 1,
    )
    assert figures["fix_rate"] == 0.5
    assert figures["proactive"] == 1
    assert figures["money_involved"] in ("1200.50", "1200.5")
    assert figures["mean_rating"] == 4.0
    assert figures["by_state"]["received"] == 1


@pytest.mark.parametrize("stores", BOTH_STORES, indirect=True)
def test_a_mediated_dispute_resolved_at_follow_up_reaches_the_ledger(
    tickets: TestClient, ledger: TestClient
) -> None:
    dispute_id = new_dispute(tickets, "agreed")
    assert act(tickets, dispute_id, "follow-ups", {"holding": True})["state"] == "resolved"
    figures: dict[str, Any] = _when(
        ledger, "/ledger/jinfeng/c01/disputes", lambda f: f["by_state"].get("resolved") == 1
    )
    assert figures["disputes"] == 1
    assert figures["sessions_video"] == 1
    assert figures["by_kind"]["neighbour"] == 1


def _board_form(tickets: TestClient, board: str) -> dict[str, str]:
    """What the board's posting form sends as rendered: its prefilled and hidden fields."""
    html = tickets.get(board).text
    form = html.split('<form class="post"', 1)[1].split("</form>", 1)[0]
    return dict(re.findall(r'<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"', form))


def test_the_district_ledger_has_one_row_for_c01_with_wishes_from_the_board_and_the_api(
    tickets: TestClient, ledger: TestClient
) -> None:
    from tests.tickets.helpers import STAFF, posting

    assert tickets.post("/wishes", json=posting(), headers=STAFF).status_code == 201
    del tickets.headers["Authorization"]  # from here on the sign-in cookie decides, as in a browser
    board = "/board/jinfeng/c01"
    signed_in = tickets.post("/signin", data={"account": "resident-c01-0", "next": board})
    assert signed_in.status_code == 200, signed_in.text
    form = {**_board_form(tickets, board), "title": "陪老人聊聊天", "category": "company",
            "claim_mode": "exclusive"}  # fmt: skip
    posted = tickets.post(f"{board}/wishes", data=form)
    assert posted.status_code == 200, posted.text

    def both_counted(rows: list[dict[str, Any]]) -> bool:
        return bool(sum(row["wishes"] for row in rows) == 2)

    rows = _when(ledger, "/ledger/jinfeng/wishes", both_counted)
    assert [(row["street"], row["community"], row["wishes"]) for row in rows] == [("s01", "c01", 2)]
