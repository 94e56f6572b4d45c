"""Personal data stays out of events and the bus, sealed per person, and erasable."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from events.topology import TICKETS_STREAM
from events.wishes import ClaimMode, WishCategory
from services.runtime.commands import Caller
from services.runtime.masking import mask_address, mask_name, mask_phone
from services.runtime.place import Place
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import Tickets, TicketsSettings
from services.tickets.main import create_app as create_tickets
from tests.conftest import eventually, tickets_settings
from tests.support.tokens import HOME, bearer
from tests.tickets.helpers import OPERATOR, RESIDENT, STAFF, posting, unit

PHONE = "13812345678"
NAME = "王秀兰"


async def _all_bus_payloads(bus: BusSettings) -> bytes:
    client = await nats.connect(bus.url)
    sub = await client.jetstream().pull_subscribe(">", stream=TICKETS_STREAM.name)
    messages = await sub.fetch(100, timeout=5)
    await client.close()
    return b"".join(m.data + repr(m.headers).encode() for m in messages)


def test_contact_details_are_neither_in_the_event_store_nor_on_the_bus(
    tickets: TestClient, bus: BusSettings, stores: dict[str, StoreSettings]
) -> None:
    tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()
    eventually(lambda: tickets.get("/ops/relay").json()["lag"] == 0)

    payloads = asyncio.run(_all_bus_payloads(bus))
    assert b"WishPosted" in payloads
    for secret in (PHONE, NAME, "3号楼2单元101", "独居老人"):
        assert secret.encode() not in payloads
    store = stores["tickets"].sqlite_path.read_bytes()
    wal = stores["tickets"].sqlite_path.with_name("tickets.sqlite-wal")
    raw = store + (wal.read_bytes() if wal.exists() else b"")
    assert PHONE.encode() not in raw
    assert NAME.encode() not in raw


def test_erasing_a_person_destroys_their_data_but_not_the_wish(tickets: TestClient) -> None:
    wish_id = uuid.UUID(
        tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
    )
    service: Tickets = tickets.app.state.tickets  # type: ignore[attr-defined]
    kept = service.wishes.personal_details("person-1", wish_id)
    assert kept is not None
    assert kept["contact"]["phone"] == PHONE

    assert service.store.vault is not None
    service.store.vault.erase("person-1")

    assert service.wishes.personal_details("person-1", wish_id) is None
    assert tickets.get(f"/wishes/{wish_id}").json()["title"] == posting()["title"]


# Masks


@pytest.mark.parametrize(
    ("name", "masked"),
    [("王秀兰", "王**"), ("张三", "张*"), ("欧阳娜娜", "欧***"), ("阿依古丽·买买提", "阿*******"),
     (" 李四 ", "李*"), ("王", "*"), ("", ""), ("John Smith", "J*********")],
)  # fmt: skip
def test_a_masked_name_keeps_only_its_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812345678", "138****5678"), ("138 1234-5678", "138****5678"),
     ("+86 138-1234-5678", "+86 138****5678"), ("8613812345678", "+86 138****5678"),
     ("02788123456", "027****3456"), ("027-8812345678", "027******5678"),
     ("88123456", "****3456"), ("1234567", "*****67"), ("12345", "****5"), ("12", "**"),
     ("", "")],
)  # fmt: skip
def test_a_masked_phone_keeps_at_most_the_first_three_and_last_four_digits(
    phone: str, masked: str
) -> None:
    assert mask_phone(phone) == masked


def test_a_masked_phone_never_shows_more_than_half_of_a_short_number() -> None:
    for length in range(1, 11):
        shown = sum(c.isdigit() for c in mask_phone("9" * length))
        assert shown <= length // 2


@pytest.mark.parametrize(
    ("address", "masked"),
    [("金凤区长城东路88号3号楼2单元101", "金凤区长城东****"), ("3号楼2单元101", "3号楼****"),
     ("101", "1****"), ("北京", "****"), ("  ", ""), ("", "")],
)  # fmt: skip
def test_a_masked_address_keeps_a_few_leading_characters_and_hides_its_length(
    address: str, masked: str
) -> None:
    assert mask_address(address) == masked


# Reading a wish's contact


def _wish(tickets: TestClient, **changes: Any) -> str:
    response = tickets.post("/wishes", json=posting(**changes), headers=RESIDENT)
    assert response.status_code == 201, response.text
    wish_id: str = response.json()["wish"]["id"]
    return wish_id


GRID_WORKER = bearer("grid-1", "grid_worker", scope={**HOME, "grid": "g01"})
SECRETARY = bearer("secretary-1", "community_secretary")
AUDITOR = bearer("auditor-1", "auditor", scope={"district": "jinfeng"})
WHY = "回访：确认上门时间"


def test_a_grid_worker_sees_the_contact_masked_and_nothing_about_the_person(
    tickets: TestClient,
) -> None:
    wish_id = _wish(tickets)
    card = tickets.get(f"/wishes/{wish_id}/contact", headers=GRID_WORKER)
    assert card.status_code == 200, card.text
    assert card.json() == {
        "wish_id": wish_id, "resident_id": "person-1", "masked": True, "name": "王**",
        "phone": "138****5678", "address": "3号楼****", "details": None,
    }  # fmt: skip


def test_the_resident_sees_their_own_contact_masked_and_nobody_elses(tickets: TestClient) -> None:
    wish_id = _wish(tickets)
    own = tickets.get(f"/wishes/{wish_id}/contact", headers=RESIDENT)
    assert own.json()["phone"] == "138****5678"
    other = bearer("resident-2", "resident", person="person-2")
    refused = tickets.get(f"/wishes/{wish_id}/contact", headers=other)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "policy.not_your_own"


def test_community_staff_without_a_reason_see_the_masked_view_and_nothing_is_logged(
    tickets: TestClient,
) -> None:
    wish_id = _wish(tickets)
    card = tickets.get(f"/wishes/{wish_id}/contact", headers=STAFF).json()
    assert card["masked"] is True
    assert card["phone"] == "138****5678"
    assert tickets.get("/ops/personal-access").json() == []


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_community_staff_giving_a_reason_see_the_contact_and_the_access_is_logged(
    tickets: TestClient,
) -> None:
    wish_id = _wish(tickets)
    before = datetime.now(UTC)
    card = tickets.get(f"/wishes/{wish_id}/contact", params={"reason": WHY}, headers=STAFF)
    assert card.status_code == 200, card.text
    assert card.json() == {
        "wish_id": wish_id, "resident_id": "person-1", "masked": False, "name": NAME,
        "phone": PHONE, "address": "3号楼2单元101", "details": "独居老人，腿脚不便",
    }  # fmt: skip

    [entry] = tickets.get("/ops/personal-access", headers=AUDITOR).json()
    assert {k: entry[k] for k in ("actor_id", "role", "person_id", "record_id", "reason")} == {
        "actor_id": "staff-1", "role": "community_staff", "person_id": "person-1",
        "record_id": wish_id, "reason": WHY,
    }  # fmt: skip
    assert entry["kind"] == "wish.contact"
    assert (entry["district"], entry["community"]) == ("jinfeng", "c01")
    assert before <= datetime.fromisoformat(entry["accessed_at"]) <= datetime.now(UTC)
    assert PHONE not in str(entry)


def test_only_the_community_desk_may_reveal_and_only_in_its_own_territory(
    tickets: TestClient,
) -> None:
    wish_id = _wish(tickets)
    url = f"/wishes/{wish_id}/contact"
    for headers in (GRID_WORKER, RESIDENT):
        refused = tickets.get(url, params={"reason": WHY}, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "policy.role_not_allowed"
    away = bearer("secretary-2", "community_secretary", scope={**HOME, "community": "c02"})
    refused = tickets.get(url, params={"reason": WHY}, headers=away)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "policy.outside_territory"
    assert tickets.get(url, params={"reason": WHY}, headers=SECRETARY).json()["phone"] == PHONE
    assert [e["actor_id"] for e in tickets.get("/ops/personal-access").json()] == ["secretary-1"]


@pytest.mark.parametrize("reason", ["", "abc", "    ", " 回访确认 ", "回访\x00确认", "x" * 201])
def test_a_reason_must_say_something(tickets: TestClient, reason: str) -> None:
    wish_id = _wish(tickets)
    response = tickets.get(f"/wishes/{wish_id}/contact", params={"reason": reason}, headers=STAFF)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "query.reason"


def test_the_access_log_is_for_auditors_and_operators_and_only_of_their_territory(
    tickets: TestClient,
) -> None:
    wish_id = _wish(tickets)
    tickets.get(f"/wishes/{wish_id}/contact", params={"reason": WHY}, headers=STAFF)
    assert len(tickets.get("/ops/personal-access", params={"person_id": "person-1"}).json()) == 1
    assert tickets.get("/ops/personal-access", params={"person_id": "person-2"}).json() == []
    elsewhere = bearer("auditor-2", "auditor", scope={"district": "elsewhere"})
    assert tickets.get("/ops/personal-access", headers=elsewhere).json() == []
    refused = tickets.get("/ops/personal-access", headers=STAFF)
    assert refused.status_code == 403


def test_a_wish_posted_without_contact_details_has_an_empty_card(tickets: TestClient) -> None:
    wish_id = _wish(tickets, contact=None, details=None)
    card = tickets.get(f"/wishes/{wish_id}/contact", params={"reason": WHY}, headers=STAFF)
    assert card.status_code == 200
    assert (card.json()["name"], card.json()["phone"]) == (None, None)
    assert tickets.get("/ops/personal-access").json() == []


# Erasure


def _sealed_bytes(path: Path) -> list[bytes]:
    """The person's wrapped key and ciphertexts, read straight from the SQLite file."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        keys = db.execute("SELECT wrapped_key FROM person_keys WHERE person_id = 'person-1'")
        records = db.execute("SELECT sealed FROM personal_records WHERE person_id = 'person-1'")
        return [bytes(row[0]) for row in [*keys.fetchall(), *records.fetchall()]]


def _file_bytes(path: Path) -> bytes:
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def _advanced_wish(tickets: TestClient) -> str:
    wish_id = _wish(tickets)
    for path, body, headers in [
        ("verification", None, STAFF),
        ("claims", {"unit_id": "unit-a"}, unit("unit-a")),
        ("fulfilment", {"unit_id": "unit-a"}, unit("unit-a")),
    ]:
        tickets.post(f"/wishes/{wish_id}/{path}", json=body, headers=headers).raise_for_status()
    return wish_id


def test_erasure_makes_the_data_unrecoverable_and_leaves_wishes_and_figures_unchanged(
    tickets: TestClient, ledger: TestClient, stores: dict[str, StoreSettings]
) -> None:
    wish_id = _advanced_wish(tickets)
    _wish(tickets, title="帮忙收拾一下家里", category="housework")
    eventually(lambda: ledger.get("/ledger/jinfeng/c01/wishes").json().get("wishes") == 2)
    eventually(lambda: tickets.get("/ops/relay").json()["lag"] == 0)
    figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
    district = ledger.get("/ledger/jinfeng/wishes").json()
    path = stores["tickets"].sqlite_path
    sealed = _sealed_bytes(path)
    assert len(sealed) == 3
    assert all(secret in _file_bytes(path) for secret in sealed)

    erased = tickets.post(
        "/persons/person-1/erasure", json={"reason": "居民本人申请删除"}, headers=SECRETARY
    )
    assert erased.status_code == 200, erased.text
    assert {k: erased.json()[k] for k in ("person_id", "actor_id", "role", "records")} == {
        "person_id": "person-1", "actor_id": "secretary-1", "role": "community_secretary",
        "records": 2,
    }  # fmt: skip

    service: Tickets = tickets.app.state.tickets  # type: ignore[attr-defined]
    assert service.wishes.personal_details("person-1", uuid.UUID(wish_id)) is None
    gone = tickets.get(f"/wishes/{wish_id}/contact", params={"reason": WHY}, headers=STAFF)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "person.erased"
    assert tickets.get(f"/wishes/{wish_id}").json()["state"] == "fulfilment_reported"
    raw = _file_bytes(path)
    assert not [secret for secret in sealed if secret in raw]
    assert PHONE.encode() not in raw

    time.sleep(0.3)  # what the ledger would do with a stray message, it would have done
    assert tickets.get("/ops/relay").json()["lag"] == 0
    assert ledger.get("/ledger/jinfeng/c01/wishes").json() == figures
    assert ledger.get("/ledger/jinfeng/wishes").json() == district


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_only_a_secretary_of_the_persons_community_or_an_operator_may_erase(
    tickets: TestClient,
) -> None:
    wish_id = _wish(tickets)
    order = {"reason": "居民本人申请删除"}
    away = bearer("secretary-2", "community_secretary", scope={**HOME, "community": "c02"})
    for headers, status, code in [
        (STAFF, 403, "policy.role_not_allowed"),
        (RESIDENT, 403, "policy.role_not_allowed"),
        (away, 404, "person.not_found"),  # none of the person's records is in c02
    ]:
        refused = tickets.post("/persons/person-1/erasure", json=order, headers=headers)
        assert refused.status_code == status
        assert refused.json()["error"]["code"] == code
    card = tickets.get(f"/wishes/{wish_id}/contact", params={"reason": WHY}, headers=STAFF)
    assert card.json()["phone"] == PHONE

    assert tickets.post("/persons/person-1/erasure", json=order).status_code == 200
    again = tickets.post("/persons/person-1/erasure", json=order)
    assert again.status_code == 410
    assert again.json()["error"]["code"] == "person.erased"
    unknown = tickets.post("/persons/person-9/erasure", json=order)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "person.not_found"
    assert tickets.post("/persons/person-1/erasure", json={}).status_code == 422


def test_a_wish_posted_after_an_erasure_has_its_own_contact(tickets: TestClient) -> None:
    old = _wish(tickets)
    order = {"reason": "居民本人申请删除"}
    tickets.post("/persons/person-1/erasure", json=order).raise_for_status()
    new = _wish(tickets)
    revealed = tickets.get(f"/wishes/{new}/contact", params={"reason": WHY}, headers=STAFF)
    assert revealed.json()["phone"] == PHONE
    assert tickets.get(f"/wishes/{old}/contact", headers=STAFF).status_code == 410


# Encryption at rest of the event store

TITLE = "吃一顿热腾腾的饺子"


def _cipher_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize("encrypted", [True, False])
def test_with_a_store_cipher_key_no_wish_title_is_in_the_event_store_file(
    bus: BusSettings, stores: dict[str, StoreSettings], encrypted: bool
) -> None:
    """The board view (public titles) is not running here: only the event store writes."""
    settings = tickets_settings(
        bus, stores["tickets"], store_cipher_key=_cipher_key() if encrypted else ""
    )
    service = Tickets(settings).open()
    try:
        outcome = service.wishes.post_wish(
            Caller("resident-1", "resident"), place=Place("jinfeng", "s01", "c01", "g01"),
            resident_id="person-1", title=TITLE, category=WishCategory.MEAL,
            claim_mode=ClaimMode.EXCLUSIVE, quota=1,
        )  # fmt: skip
        service.wishes.verify_wish(Caller("staff-1", "community_staff"), outcome.wish.id)
        assert service.wishes.get_wish(outcome.wish.id).title == TITLE
    finally:
        service.close()
    assert (TITLE.encode() in _file_bytes(stores["tickets"].sqlite_path)) is not encrypted


def test_with_a_store_cipher_key_the_service_works_end_to_end(
    bus: BusSettings, stores: dict[str, StoreSettings], ledger: TestClient
) -> None:
    settings = tickets_settings(bus, stores["tickets"], store_cipher_key=_cipher_key())
    with TestClient(create_tickets(settings), headers=OPERATOR) as tickets:
        wish_id = _advanced_wish(tickets)
        assert tickets.get(f"/wishes/{wish_id}").json()["title"] == TITLE
        board = tickets.get("/wishes", params={"district": "jinfeng", "community": "c01"})
        assert [item["title"] for item in board.json()["items"]] == [TITLE]
        eventually(lambda: ledger.get("/ledger/jinfeng/c01/wishes").json()["claims"] == 1)
        revealed = tickets.get(f"/wishes/{wish_id}/contact", params={"reason": WHY}, headers=STAFF)
        assert revealed.json()["phone"] == PHONE
    with contextlib.closing(sqlite3.connect(stores["tickets"].sqlite_path)) as db:
        rows = [
            (row[0], bytes(row[1])) for row in db.execute("SELECT topic, state FROM stored_events")
        ]
    states = [state for _, state in rows]
    assert sum(topic.startswith("services.tickets.wishes.domain:Wish.") for topic, _ in rows) == 4
    assert not [state for state in states if TITLE.encode() in state or b"person-1" in state]


def test_a_store_cipher_key_must_be_an_aes_key() -> None:
    with pytest.raises(ValidationError, match="16, 24 or 32 byte AES key"):
        TicketsSettings(store_cipher_key=base64.b64encode(b"short").decode())
    with pytest.raises(ValidationError, match="valid base64"):
        TicketsSettings(store_cipher_key="not base64!")
