"""The whole micro-wish lifecycle through HTTP, ending in the ledger over a real bus."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import eventually
from tests.tickets.helpers import RESIDENT, STAFF, assert_unknown_place, posting, unit


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_wish_posted_claimed_fulfilled_verified_and_acknowledged_reaches_the_ledger(
    tickets: TestClient, ledger: TestClient
) -> None:
    posted = tickets.post("/wishes", json=posting(), headers=RESIDENT)
    assert posted.status_code == 201, posted.text
    wish_id = posted.json()["wish"]["id"]
    assert posted.json()["wish"]["state"] == "submitted"

    steps = [
        (f"/wishes/{wish_id}/verification", None, STAFF, "open"),
        (f"/wishes/{wish_id}/claims", {"unit_id": "unit-a"}, unit("unit-a"), "claimed"),
        (f"/wishes/{wish_id}/fulfilment", {"unit_id": "unit-a"}, unit("unit-a"),
         "fulfilment_reported"),
        (f"/wishes/{wish_id}/fulfilment/verification", None, STAFF, "fulfilled"),
        (f"/wishes/{wish_id}/acknowledgement", {"rating": 5}, RESIDENT, "closed"),
    ]  # fmt: skip
    for path, body, headers, state in steps:
        response = tickets.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        assert response.json()["wish"]["state"] == state

    def closed_in_ledger() -> dict[str, object] | None:
        figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
        return figures if figures["by_state"]["closed"] == 1 else None

    figures = eventually(closed_in_ledger)
    assert figures["wishes"] == 1
    assert figures["claims"] == 1
    assert figures["claims_by_unit"] == [{"unit_id": "unit-a", "claims": 1, "released": 0}]
    assert figures["post_to_claim"]["count"] == 1
    assert figures["post_to_fulfilment"]["count"] == 1
    assert figures["mean_rating"] == 5.0

    def board_states() -> list[str]:
        board = tickets.get("/wishes", params={"district": "jinfeng", "community": "c01"}).json()
        return [item["state"] for item in board["items"]]

    eventually(lambda: board_states() == ["closed"])


def test_a_wish_for_a_place_not_in_the_territory_is_refused_422_naming_the_field(
    tickets: TestClient,
) -> None:
    cases = [
        ({"community": "c99"}, "body.community"),
        ({"grid": "g99"}, "body.grid"),
        ({"street": "s1"}, "body.street"),
        ({"district": "atlantis"}, "body.district"),
    ]
    for changes, field in cases:
        assert_unknown_place(tickets.post("/wishes", json=posting(**changes), headers=STAFF), field)
    listed = tickets.get("/wishes", params={"district": "jinfeng", "community": "c01"})
    assert listed.json()["items"] == []
