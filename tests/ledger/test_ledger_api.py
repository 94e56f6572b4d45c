"""The ledger over HTTP: a community it has never seen an event for is not a row of zeros."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import eventually
from tests.support.tokens import bearer
from tests.tickets.helpers import posting

C07 = {"district": "jinfeng", "street": "s07", "community": "c07"}
RESIDENT = bearer("resident-7", "resident", scope=C07, person="person-7")


def test_a_community_no_book_has_seen_is_404_and_known_once_an_event_placed_there_arrives(
    tickets: TestClient, ledger: TestClient
) -> None:
    unknown = ledger.get("/ledger/jinfeng/c07/tickets")

    assert unknown.status_code == 404, unknown.text
    error = unknown.json()["error"]
    assert error["code"] == "ledger.unknown_community"
    assert [f["field"] for f in error["fields"]] == ["path.community"]

    posted = tickets.post("/wishes", json=posting(**C07, resident_id="person-7"), headers=RESIDENT)
    assert posted.status_code == 201, posted.text
    wishes = eventually(lambda: ledger.get("/ledger/jinfeng/c07/wishes").json().get("wishes"))
    tickets_book = ledger.get("/ledger/jinfeng/c07/tickets")

    assert wishes == 1
    assert tickets_book.status_code == 200
    assert tickets_book.json()["tickets"] == 0
