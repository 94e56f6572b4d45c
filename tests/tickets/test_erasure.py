"""Erasure: who may erase whom (services/runtime/policy.py), and erased stays erased.

A command retried with its `Idempotency-Key` after the person was erased answers the first
answer and seals nothing again (services/runtime/commands.py `Commands`); each kind of sealed
record is tried over HTTP: post with key K, erase the person, retry with K.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.runtime.commands import Caller
from services.runtime.place import Place
from services.runtime.settings import StoreSettings
from services.tickets.main import Tickets
from tests.support.tokens import HOME, bearer
from tests.tickets.helpers import OPERATOR, RESIDENT, STAFF, in_community, posting
from tests.tickets.mediation.dispute_cases import MEDIATOR, MINUTES, filing, new_dispute
from tests.tickets.ticketing.ticket_cases import ticket_at
from tests.tickets.ticketing.ticket_helpers import GRID_WORKER, handler, request

PHONE = b"13812345678"
NOTES = "NOTES-vq63: 独居老人，腿脚不便"
WHY = "回访核实"


def _file_bytes(path: Path) -> bytes:
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def _erase(tickets: TestClient, *persons: str) -> None:
    for person in persons:
        erased = tickets.post(
            f"/persons/{person}/erasure", json={"reason": "居民本人申请删除"}, headers=OPERATOR
        )
        assert erased.status_code == 200, erased.text


def _post_erase_retry(
    tickets: TestClient, path: str, body: dict[str, Any], headers: dict[str, str], *persons: str
) -> dict[str, Any]:
    """The first answer, after checking the retry past the erasure answers the same."""
    keyed = {**headers, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = tickets.post(path, json=body, headers=keyed)
    assert first.status_code < 300, first.text
    _erase(tickets, *persons)
    again = tickets.post(path, json=body, headers=keyed)
    assert again.status_code == first.status_code, again.text
    assert again.content == first.content
    answer: dict[str, Any] = first.json()
    return answer


_PLACE = {"district": "jinfeng", "street": "s01", "community": "c01", "grid": "g01"}
_RECORDS = {
    "ticket requester": ("/tickets", request(), RESIDENT),
    "visited household": (
        "/visits", {**_PLACE, "households": 1, "household_ids": ["person-1"], "notes": NOTES},
        GRID_WORKER,
    ),
    "dispute party": ("/disputes", filing(), RESIDENT),
}  # fmt: skip


@pytest.mark.parametrize("record", list(_RECORDS))
def test_a_secretary_of_another_community_may_not_erase_a_person_whose_record_lies_in_c01(
    tickets: TestClient, record: str
) -> None:
    path, body, headers = _RECORDS[record]
    tickets.post(path, json=body, headers=headers).raise_for_status()
    order = {"reason": "居民本人申请删除"}
    away = bearer("secretary-2", "community_secretary", scope={**HOME, "community": "c02"})

    refused = tickets.post("/persons/person-1/erasure", json=order, headers=away)

    assert refused.status_code == 404, refused.text  # as for nobody: a 403 would say where
    assert refused.json()["error"]["code"] == "person.not_found"
    vault = _service(tickets).store.vault
    assert vault is not None
    assert vault.records("person-1") != {}
    home = bearer("secretary-1", "community_secretary", scope=HOME)
    assert tickets.post("/persons/person-1/erasure", json=order, headers=home).status_code == 200
    assert vault.records("person-1") == {}


def _service(tickets: TestClient) -> Tickets:
    service: Tickets = tickets.app.state.tickets  # type: ignore[attr-defined]
    return service


def test_a_wish_posting_retried_after_the_resident_was_erased_leaves_the_contact_erased(
    tickets: TestClient, stores: dict[str, StoreSettings]
) -> None:
    answer = _post_erase_retry(tickets, "/wishes", posting(), RESIDENT, "person-1")

    wish_id = answer["wish"]["id"]
    card = tickets.get(f"/wishes/{wish_id}/contact", params={"reason": WHY}, headers=STAFF)
    assert card.status_code == 410, card.text
    assert card.json()["error"]["code"] == "person.erased"
    assert _service(tickets).wishes.personal_details("person-1", uuid.UUID(wish_id)) is None
    assert PHONE not in _file_bytes(stores["tickets"].sqlite_path)


def test_a_ticket_retried_after_the_requester_was_erased_keeps_no_contact(
    tickets: TestClient, stores: dict[str, StoreSettings]
) -> None:
    answer = _post_erase_retry(tickets, "/tickets", request(), RESIDENT, "person-1")

    service = _service(tickets)
    ticket = service.dispatcher.get_ticket(uuid.UUID(answer["ticket"]["id"]))
    assert ticket.requester_id == "person-1"
    assert service.dispatcher.personal_details(ticket) is None
    assert service.store.vault is not None
    assert service.store.vault.records("person-1") == {}
    assert PHONE not in _file_bytes(stores["tickets"].sqlite_path)


def test_a_resolution_note_retried_after_the_requester_was_erased_is_not_sealed_again(
    tickets: TestClient,
) -> None:
    ticket_id = ticket_at(tickets, "accepted")
    body = {"handler_id": "unit-m", "note": NOTES}
    _post_erase_retry(
        tickets, f"/tickets/{ticket_id}/resolution", body, handler("unit-m"), "person-1"
    )

    vault = _service(tickets).store.vault
    assert vault is not None
    assert vault.records("person-1") == {}
    assert vault.erasure("person-1") is not None


def test_a_visit_retried_after_the_household_was_erased_has_no_notes(
    tickets: TestClient, stores: dict[str, StoreSettings]
) -> None:
    place = {"district": "jinfeng", "street": "s01", "community": "c01", "grid": "g01"}
    body = {**place, "households": 1, "household_ids": ["person-7"], "notes": NOTES}
    answer = _post_erase_retry(tickets, "/visits", body, GRID_WORKER, "person-7")

    visit_id = answer["visit_id"]
    visit = tickets.get(f"/visits/{visit_id}", params={"reason": WHY}, headers=GRID_WORKER)
    assert visit.status_code == 200, visit.text
    assert visit.json()["notes"] is None
    assert NOTES.encode() not in _file_bytes(stores["tickets"].sqlite_path)


def test_a_dispute_filing_retried_after_the_parties_were_erased_keeps_no_names_or_phones(
    tickets: TestClient, stores: dict[str, StoreSettings]
) -> None:
    answer = _post_erase_retry(tickets, "/disputes", filing(), RESIDENT, "person-1", "person-2")

    vault = _service(tickets).store.vault
    assert vault is not None
    dispute_id = answer["dispute"]["id"]
    assert vault.get("person-1", f"{dispute_id}:filing") is None
    assert vault.get("person-2", f"{dispute_id}:filing") is None
    assert PHONE not in _file_bytes(stores["tickets"].sqlite_path)


def test_session_minutes_retried_after_the_parties_were_erased_read_as_erased(
    tickets: TestClient, stores: dict[str, StoreSettings]
) -> None:
    dispute_id = new_dispute(tickets, "consented")
    body = {"mode": "video", "minutes": MINUTES}
    _post_erase_retry(
        tickets, f"/disputes/{dispute_id}/sessions", body, MEDIATOR, "person-1", "person-2"
    )

    minutes = tickets.get(
        f"/disputes/{dispute_id}/sessions/1", params={"reason": WHY}, headers=MEDIATOR
    )
    assert minutes.status_code == 410, minutes.text
    assert minutes.json()["error"]["code"] == "person.erased"
    assert MINUTES.encode() not in _file_bytes(stores["tickets"].sqlite_path)


class _OutsideError(Exception):
    """The erasing secretary's territory does not contain the record."""


@pytest.mark.parametrize(
    "stores", ["memory", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_record_sealed_elsewhere_while_an_erasure_is_checked_is_checked_too_and_kept(
    tickets: TestClient,
) -> None:
    person = f"person-{uuid.uuid4().hex[:8]}"
    tickets.post("/wishes", json=posting(resident_id=person), headers=STAFF).raise_for_status()
    c02 = in_community("c02")["staff"]
    raced: list[Any] = []

    def may_erase(kind: str, place: Place) -> None:
        if not raced:  # while the c01 secretary's erasure is checked, c02 posts for the person
            body = posting(resident_id=person, community="c02")
            raced.append(tickets.post("/wishes", json=body, headers=c02))
        if place.community != "c01":
            raise _OutsideError(place.community)

    personal = tickets.app.state.tickets.personal  # type: ignore[attr-defined]
    with pytest.raises(_OutsideError):
        personal.erase_person(Caller("secretary-c01", "community_secretary"), person,
                              "居民本人申请删除", may_erase)  # fmt: skip

    assert raced[0].status_code == 201, raced[0].text
    wish_id = raced[0].json()["wish"]["id"]
    card = tickets.get(f"/wishes/{wish_id}/contact", params={"reason": WHY}, headers=c02)
    assert card.status_code == 200, card.text


def test_an_erasure_retried_with_its_idempotency_key_answers_the_first_answer(
    tickets: TestClient,
) -> None:
    person = f"person-{uuid.uuid4().hex[:8]}"
    tickets.post("/wishes", json=posting(resident_id=person), headers=STAFF).raise_for_status()
    keyed = {**OPERATOR, "Idempotency-Key": "erase-1"}
    order = {"reason": "居民本人申请删除"}
    first = tickets.post(f"/persons/{person}/erasure", json=order, headers=keyed)
    assert first.status_code == 200, first.text

    again = tickets.post(f"/persons/{person}/erasure", json=order, headers=keyed)
    unkeyed = tickets.post(f"/persons/{person}/erasure", json=order, headers=OPERATOR)

    assert again.status_code == 200, again.text
    assert again.content == first.content
    assert unkeyed.status_code == 410


def test_an_erasure_key_reused_for_another_person_or_after_a_command_is_refused_422(
    tickets: TestClient,
) -> None:
    first, second = (f"person-{uuid.uuid4().hex[:8]}" for _ in range(2))
    for person in (first, second):
        tickets.post("/wishes", json=posting(resident_id=person), headers=STAFF).raise_for_status()
    order = {"reason": "居民本人申请删除"}
    keyed = {**OPERATOR, "Idempotency-Key": "erase-2"}
    assert tickets.post(f"/persons/{first}/erasure", json=order, headers=keyed).status_code == 200

    other_person = tickets.post(f"/persons/{second}/erasure", json=order, headers=keyed)
    other_reason = tickets.post(
        f"/persons/{first}/erasure", json={"reason": "另一个理由说明"}, headers=keyed
    )
    secretary = bearer("secretary-1", "community_secretary", scope=HOME)
    posted_with = {**secretary, "Idempotency-Key": "post-then-erase"}
    tickets.post("/wishes", json=posting(), headers=posted_with).raise_for_status()
    after_a_post = tickets.post(f"/persons/{second}/erasure", json=order, headers=posted_with)

    for refused in (other_person, other_reason, after_a_post):
        assert refused.status_code == 422, refused.text
    records = tickets.app.state.tickets.store.vault.records(second)  # type: ignore[attr-defined]
    assert records  # the second person was never erased


def test_an_erasure_outside_every_record_of_the_person_answers_as_for_nobody(
    tickets: TestClient,
) -> None:
    person = f"person-{uuid.uuid4().hex[:8]}"
    tickets.post("/wishes", json=posting(resident_id=person), headers=STAFF).raise_for_status()
    c02 = bearer("secretary-c02", "community_secretary",
                 scope={"district": "jinfeng", "street": "s02", "community": "c02"})  # fmt: skip
    order = {"reason": "居民本人申请删除"}

    known = tickets.post(f"/persons/{person}/erasure", json=order, headers=c02)
    unknown = tickets.post("/persons/person-nobody/erasure", json=order, headers=c02)

    assert (known.status_code, unknown.status_code) == (404, 404)
    assert known.json()["error"]["code"] == unknown.json()["error"]["code"] == "person.not_found"
    assert "c01" not in known.text
