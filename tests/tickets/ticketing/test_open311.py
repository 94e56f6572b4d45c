"""Open311 GeoReport v2 over the tickets, on real SQLite files (no bus: nothing here is about
delivery): the specification's
fields in JSON and XML, posting with an API key, the standard filters and the error format."""

from __future__ import annotations

import hashlib
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from events.tickets import Channel
from services.runtime.commands import Caller
from services.runtime.place import Place
from services.runtime.settings import StoreSettings
from services.tickets.main import TicketsSettings
from services.tickets.main import create_app as create_tickets
from tests.conftest import OFFLINE_BUS, eventually, tickets_settings
from tests.support.tokens import auth_settings, bearer
from tests.tickets.ticketing.ticket_helpers import SECRETARY, received

ROOT = "/open311/v2"
KEY = "civic-app-key-1"
AUDITOR_KEY = "auditor-key-1"
SERVICE_FIELDS = [
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
]  # fmt: skip
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
]  # fmt: skip
"""The specification's fields of GET Service Requests, in its order."""
PERSONAL = {
    "first_name": "Xiulan",
    "last_name": "Wangfamily",
    "phone": "13812345678",
    "email": "xiulan.wang@example.org",
    "description": "Water drips through the ceiling of flat 3B every night",
}


def with_api_keys(store: StoreSettings, folder: Path) -> TicketsSettings:
    """Two API keys: a civic app (community staff of the district) and an auditor's system
    (which may not receive tickets); the relay off, as no test here reads the bus."""
    keys = [
        {"id": "civic-app", "sha256": hashlib.sha256(KEY.encode()).hexdigest(),
         "role": "community_staff", "scope": {"district": "jinfeng"}},
        {"id": "audit-system", "sha256": hashlib.sha256(AUDITOR_KEY.encode()).hexdigest(),
         "role": "auditor", "scope": {}},
    ]  # fmt: skip
    (folder / "api-keys.json").write_text(json.dumps(keys), encoding="utf-8")
    auth = auth_settings().model_copy(update={"api_keys_file": folder / "api-keys.json"})
    return tickets_settings(OFFLINE_BUS, store, relay_enabled=False).model_copy(
        update={"auth": auth}
    )


@pytest.fixture
def open311(stores: dict[str, StoreSettings], tmp_path: Path) -> Iterator[TestClient]:
    """The tickets service with API keys; its callers are anonymous unless they send one."""
    with TestClient(create_tickets(with_api_keys(stores["tickets"], tmp_path))) as client:
        yield client


def form(**changes: str | None) -> dict[str, str]:
    fields: dict[str, str | None] = {
        "api_key": KEY,
        "jurisdiction_id": "jinfeng",
        "service_code": "roof_leak",
        "address_id": "c01/b001",
        "lat": "30.2741",
        "long": "120.1551",
        **PERSONAL,
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def post(client: TestClient, fmt: str = "json", **changes: str | None) -> httpx.Response:
    response: httpx.Response = client.post(f"{ROOT}/requests.{fmt}", data=form(**changes))
    return response


def posted(client: TestClient, **changes: str | None) -> str:
    response = post(client, "json", **changes)
    assert response.status_code == 200, response.text
    ticket_id: str = response.json()[0]["service_request_id"]
    return ticket_id


def listed(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"{ROOT}/requests.json", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def xml_items(response: httpx.Response, root: str, item: str) -> list[ET.Element]:
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    tree = ET.fromstring(response.content)
    assert tree.tag == root
    assert all(child.tag == item for child in tree)
    return list(tree)


def test_the_service_list_offers_the_rules_in_effect_with_the_specifications_fields(
    open311: TestClient,
) -> None:
    as_json = open311.get(f"{ROOT}/services.json")
    as_xml = open311.get(f"{ROOT}/services.xml", params={"jurisdiction_id": "jinfeng"})

    assert as_json.status_code == as_xml.status_code == 200
    assert as_json.headers["content-type"].startswith("application/json")
    services = as_json.json()
    assert all(list(service) == SERVICE_FIELDS for service in services)
    leak = next(s for s in services if s["service_code"] == "roof_leak")
    assert leak == {
        "service_code": "roof_leak", "service_name": "屋顶漏水",
        "description": "Water coming through a roof or top-floor ceiling", "metadata": False,
        "type": "realtime", "keywords": "Roof leak", "group": "property",
    }  # fmt: skip
    items = xml_items(as_xml, "services", "service")
    assert [[field.tag for field in item] for item in items] == [SERVICE_FIELDS] * len(services)
    assert [item.findtext("service_code") for item in items] == [
        s["service_code"] for s in services
    ]
    assert {item.findtext("metadata") for item in items} == {"false"}


def test_a_service_definition_has_its_code_and_no_attributes_and_an_unknown_code_is_404(
    open311: TestClient,
) -> None:
    assert open311.get(f"{ROOT}/services/roof_leak.json").json() == {
        "service_code": "roof_leak",
        "attributes": [],
    }
    definition = ET.fromstring(open311.get(f"{ROOT}/services/roof_leak.xml").content)
    assert definition.tag == "service_definition"
    assert [child.tag for child in definition] == ["service_code", "attributes"]
    assert definition.findtext("service_code") == "roof_leak"

    unknown = open311.get(f"{ROOT}/services/potholes.json")
    assert unknown.status_code == 404
    assert unknown.json() == [
        {"code": 404, "description": "service_code: potholes is not a service"}
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_request_posted_form_encoded_with_an_api_key_becomes_an_open311_ticket(
    open311: TestClient, fmt: str
) -> None:
    response = post(open311, fmt)

    assert response.status_code == 200, response.text
    if fmt == "json":
        [created] = response.json()
    else:
        [item] = xml_items(response, "service_requests", "request")
        created = {field.tag: field.text for field in item}
    assert list(created) == ["service_request_id", "service_notice", "account_id", "token"]
    assert created["token"] == created["service_request_id"]
    assert created["account_id"].startswith("open311:")
    tickets = open311.app.state.tickets  # type: ignore[attr-defined]
    ticket = tickets.dispatcher.get_ticket(UUID(created["service_request_id"]))
    assert (ticket.channel, ticket.category, ticket.title) == ("open311", "roof_leak", "屋顶漏水")
    assert (ticket.street, ticket.community, ticket.grid, ticket.building) == (
        "s01", "c01", "g01", "b001",
    )  # fmt: skip
    assert ticket.requester_id == created["account_id"]
    personal = tickets.dispatcher.personal_details(ticket)
    assert personal["description"] == PERSONAL["description"]
    assert personal["contact"] == {
        "name": "Xiulan Wangfamily", "phone": PERSONAL["phone"], "email": PERSONAL["email"],
    }  # fmt: skip


def test_the_same_person_posting_twice_through_one_client_keeps_one_pseudonymous_account(
    open311: TestClient,
) -> None:
    first = post(open311).json()[0]["account_id"]
    again = post(open311, service_code="drainage").json()[0]["account_id"]
    other = post(open311, email="someone.else@example.org").json()[0]["account_id"]

    assert first == again != other
    assert PERSONAL["email"] not in first


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("key", "status", "description"),
    [
        (None, 401, "api_key: required to post a service request"),
        ("not-a-key", 403, "api_key: invalid api_key received"),
        (AUDITOR_KEY, 403, "api_key: a auditor may not post requests"),
    ],
    ids=["missing", "unknown", "role not allowed"],
)
def test_posting_without_a_valid_api_key_is_refused_in_the_error_format(
    open311: TestClient, fmt: str, key: str | None, status: int, description: str
) -> None:
    response = post(open311, fmt, api_key=key)

    assert response.status_code == status
    assert errors_of(response, fmt) == [(str(status), description)]


def errors_of(response: httpx.Response, fmt: str) -> list[tuple[str, str]]:
    """The specification's error list, in either format, as (code, description) pairs."""
    if fmt == "json":
        assert response.headers["content-type"].startswith("application/json")
        return [(str(e["code"]), e["description"]) for e in response.json()]
    found = []
    for error in xml_items(response, "errors", "error"):
        assert [field.tag for field in error] == ["code", "description"]
        found.append((error.findtext("code") or "", error.findtext("description") or ""))
    return found


def test_the_request_list_shows_public_fields_only_in_both_formats(open311: TestClient) -> None:
    ticket_id = posted(open311)

    [request] = eventually(lambda: listed(open311))
    as_xml = open311.get(f"{ROOT}/requests.xml")

    assert list(request) == REQUEST_FIELDS
    assert request["service_request_id"] == ticket_id
    assert (request["status"], request["status_notes"]) == ("open", "received")
    assert (request["service_code"], request["service_name"]) == ("roof_leak", "屋顶漏水")
    assert request["description"] == "屋顶漏水"  # the public title, not the resident's words
    assert request["address"] == "jinfeng/s01/c01/b001"
    assert request["address_id"] == "c01/b001"
    assert datetime.fromisoformat(request["requested_datetime"]).tzinfo is not None
    [item] = xml_items(as_xml, "service_requests", "request")
    assert [field.tag for field in item] == REQUEST_FIELDS
    assert item.findtext("service_request_id") == ticket_id
    assert item.findtext("zipcode") == ""
    for value in PERSONAL.values():
        assert value not in as_xml.text
        assert value not in json.dumps(request, ensure_ascii=False)


def test_requests_are_filtered_by_id_list_service_code_status_and_date_range(
    open311: TestClient,
) -> None:
    leak, drain, closed = (
        posted(open311, service_code=c) for c in ("roof_leak", "drainage", "noise")
    )
    step = open311.post(f"/tickets/{closed}/closure", json={"fixed": False}, headers=SECRETARY)
    assert step.status_code == 200, step.text
    eventually(lambda: {r["status"] for r in listed(open311)} == {"open", "closed"})

    def ids(**params: str) -> set[str]:
        return {r["service_request_id"] for r in listed(open311, **params)}

    hour = timedelta(hours=1)
    now = datetime.now(UTC)
    assert ids() == {leak, drain, closed}
    assert ids(service_request_id=f"{leak},{closed}") == {leak, closed}
    assert ids(service_code="drainage,noise") == {drain, closed}
    assert ids(status="open") == {leak, drain}
    assert ids(status="closed") == {closed}
    assert ids(status="open,closed") == {leak, drain, closed}
    assert ids(start_date=(now - hour).isoformat()) == {leak, drain, closed}
    assert ids(start_date=(now + hour).isoformat()) == set()
    assert ids(end_date=(now - hour).isoformat().replace("+00:00", "Z")) == set()
    assert ids(service_request_id=leak, status="closed") == {leak}  # the id list overrides
    [row] = listed(open311, status="closed")
    assert row["status_notes"] == "closed_not_fixed"


def test_one_request_is_a_list_of_one_and_an_unknown_id_is_404(open311: TestClient) -> None:
    ticket_id = posted(open311)

    [one] = open311.get(f"{ROOT}/requests/{ticket_id}.json").json()
    [item] = xml_items(
        open311.get(f"{ROOT}/requests/{ticket_id}.xml"), "service_requests", "request"
    )
    missing = open311.get(f"{ROOT}/requests/00000000-0000-4000-8000-000000000000.xml")

    assert list(one) == REQUEST_FIELDS
    assert (one["service_request_id"], one["status"]) == (ticket_id, "open")
    assert [field.tag for field in item] == REQUEST_FIELDS
    assert missing.status_code == 404
    assert errors_of(missing, "xml") == [("404", "service_request_id: not found")]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_token_is_the_ticket_id_and_resolves_to_its_request(
    open311: TestClient, fmt: str
) -> None:
    token = post(open311).json()[0]["token"]

    response = open311.get(f"{ROOT}/tokens/{token}.{fmt}")

    assert response.status_code == 200
    if fmt == "json":
        assert response.json() == [{"service_request_id": token, "token": token}]
    else:
        [item] = xml_items(response, "service_requests", "request")
        assert [(f.tag, f.text) for f in item] == [("service_request_id", token), ("token", token)]
    assert open311.get(f"{ROOT}/tokens/not-a-token.{fmt}").status_code == 404


BAD_POSTS = [
    ({"service_code": None}, 400, "service_code: required"),
    ({"service_code": "potholes"}, 400, "service_code: potholes is not a service"),
    ({"lat": "north"}, 400, "lat: 'north' is not a number"),
    ({"long": "540"}, 400, "long: must lie between -180 and 180"),
    ({"long": None}, 400, "lat: lat and long go together"),
    ({"address_id": None, "lat": None, "long": None}, 400,
     "address_id: give lat and long, address_string or address_id"),
    ({"address_id": "c99/b001"}, 400, "address_id: c99 is not a community"),
    ({"address_id": "c01/b999"}, 400, "address_id: b999 is not a building there"),
    ({"address_id": "C01"}, 400, "address_id: 'C01' is not a territory code"),
    ({"email": "not-an-address"}, 400, "email: 'not-an-address' is not valid"),
    ({"description": "x" * 4001}, 400, "description: at most 4000 characters"),
    ({"jurisdiction_id": "elsewhere"}, 404, "jurisdiction_id: elsewhere is not served here"),
]  # fmt: skip
BAD_READS = [
    ("requests", {"status": "pending"}, 400, "status: pending (open or closed)"),
    ("requests", {"start_date": "yesterday"}, 400, "start_date: yesterday is not a W3C datetime"),
    ("requests", {"end_date": "2026-01-02T10:00:00"}, 400,
     "end_date: 2026-01-02T10:00:00 needs a time zone (Z or ±hh:mm)"),
    ("requests", {"start_date": "2026-01-01", "end_date": "2026-06-01"}, 400,
     "start_date: the range may not span more than 90 days"),
    ("requests", {"service_request_id": "42"}, 400,
     "service_request_id: 42 is not a service request id"),
    ("services", {"jurisdiction_id": "elsewhere"}, 404,
     "jurisdiction_id: elsewhere is not served here"),
]  # fmt: skip


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("changes", "status", "description"), BAD_POSTS)
def test_an_invalid_post_is_answered_in_the_error_format_naming_the_field(
    open311: TestClient, fmt: str, changes: dict[str, str | None], status: int, description: str
) -> None:
    response = post(open311, fmt, **changes)

    assert response.status_code == status, response.text
    assert errors_of(response, fmt) == [(str(status), description)]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("resource", "params", "status", "description"), BAD_READS)
def test_an_invalid_read_is_answered_in_the_error_format_naming_the_field(
    open311: TestClient,
    fmt: str,
    resource: str,
    params: dict[str, str],
    status: int,
    description: str,
) -> None:
    response = open311.get(f"{ROOT}/{resource}.{fmt}", params=params)

    assert response.status_code == status, response.text
    assert errors_of(response, fmt) == [(str(status), description)]


def test_an_unknown_format_or_a_json_body_is_refused_in_the_error_format(
    open311: TestClient,
) -> None:
    unknown = open311.get(f"{ROOT}/services.csv")
    as_json = open311.post(f"{ROOT}/requests.json", json=form())

    assert unknown.status_code == 404
    assert unknown.json() == [
        {"code": 404, "description": "format: csv is not offered (use json or xml)"}
    ]
    assert as_json.status_code == 400
    assert as_json.json() == [
        {"code": 400, "description": "body: send the request as application/x-www-form-urlencoded"}
    ]


@pytest.mark.parametrize("stores", ["sqlite"], indirect=True)  # the files are scanned
def test_no_personal_field_posted_via_open311_is_kept_in_the_store_in_plaintext(
    stores: dict[str, StoreSettings], tmp_path: Path
) -> None:
    settings = with_api_keys(stores["tickets"], tmp_path)
    with TestClient(create_tickets(settings)) as client:
        ticket_id = posted(client, address_string="Building 1, Lane 88, Gulou Road")
        eventually(lambda: listed(client))
    store = b"".join(p.read_bytes() for p in tmp_path.glob("tickets.sqlite*"))

    assert ticket_id.encode() in store, "the scan reads the stored tickets"
    for value in [*PERSONAL.values(), "Building 1, Lane 88, Gulou Road"]:
        assert value.encode() not in store, value


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("end_date", "0001-01-01T00:00:00Z"),
        ("start_date", "9999-12-31T23:59:59Z"),
        ("start_date", "9999-12-31T23:59:59-12:00"),
        ("end_date", "0001-01-01T00:00:00+14:00"),
        ("end_date", "0001-01-01"),
        ("start_date", "2026-02-30T00:00:00Z"),
        ("start_date", "2026-01-01T00:00:00+25:00"),
    ],
)
def test_a_date_at_the_ends_of_the_calendar_or_malformed_is_the_specifications_400(
    open311: TestClient, fmt: str, field: str, value: str
) -> None:
    response = open311.get(f"{ROOT}/requests.{fmt}", params={field: value})

    assert response.status_code == 400, response.text
    [(code, description)] = errors_of(response, fmt)
    assert code == "400"
    assert description.startswith(f"{field}: {value} ")


def test_an_untriaged_ticket_is_listed_under_the_untriaged_service_in_both_formats(
    open311: TestClient,
) -> None:
    untriaged = received(open311)
    leak = posted(open311)
    eventually(lambda: len(listed(open311)) == 2)

    as_json = {r["service_request_id"]: r for r in listed(open311)}[untriaged]
    [item] = [
        i
        for i in xml_items(open311.get(f"{ROOT}/requests.xml"), "service_requests", "request")
        if i.findtext("service_request_id") == untriaged
    ]
    services = {s["service_code"]: s for s in open311.get(f"{ROOT}/services.json").json()}

    assert (as_json["service_code"], as_json["service_name"]) == ("untriaged", "待分类")
    assert (item.findtext("service_code"), item.findtext("service_name")) == (
        "untriaged", "待分类",
    )  # fmt: skip
    assert list(services["untriaged"]) == SERVICE_FIELDS
    assert open311.get(f"{ROOT}/services/untriaged.json").status_code == 200
    only = {r["service_request_id"] for r in listed(open311, service_code="untriaged")}
    both = {r["service_request_id"] for r in listed(open311, service_code="untriaged,roof_leak")}
    assert (only, both) == ({untriaged}, {untriaged, leak})


def test_a_request_posted_under_the_untriaged_service_leaves_the_category_to_the_community(
    open311: TestClient,
) -> None:
    ticket_id = posted(open311, service_code="untriaged")

    tickets = open311.app.state.tickets  # type: ignore[attr-defined]
    ticket = tickets.dispatcher.get_ticket(UUID(ticket_id))
    assert (ticket.category, ticket.title) == (None, "待分类")


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("field", "value"),
    [("first_name", "Xiu\x1blan"), ("address_string", "Lane 88\n"), ("description", "drip\x0b"),
     ("attribute[building]", "b\x00")],
)  # fmt: skip
def test_a_form_post_with_a_control_character_is_refused_in_the_error_format_naming_the_field(
    open311: TestClient, fmt: str, field: str, value: str
) -> None:
    response = post(open311, fmt, **{field: value})

    assert response.status_code == 400, response.text
    [(code, description)] = errors_of(response, fmt)
    assert code == "400"
    assert description.startswith(f"{field}: contains the control character U+")


def test_a_form_posts_description_keeps_its_line_breaks(open311: TestClient) -> None:
    ticket_id = posted(open311, description="Water drips\r\nthrough the ceiling\tat night")

    tickets = open311.app.state.tickets  # type: ignore[attr-defined]
    personal = tickets.dispatcher.personal_details(tickets.dispatcher.get_ticket(UUID(ticket_id)))
    assert personal["description"] == "Water drips\r\nthrough the ceiling\tat night"


def test_every_xml_answer_is_well_formed_whatever_was_stored_or_echoed(
    open311: TestClient,
) -> None:
    tickets = open311.app.state.tickets  # type: ignore[attr-defined]
    stored = "漏水\x0b\x00\x1b\ufffe!"  # as stored before input was checked
    tickets.dispatcher.receive(
        Caller("gw-1", "grid_worker"), place=Place("jinfeng", "s01", "c01"),
        channel=Channel.GRID_PATROL, proactive=True, requester_id=None, title=stored,
    )  # fmt: skip
    eventually(lambda: listed(open311))

    [item] = xml_items(open311.get(f"{ROOT}/requests.xml"), "service_requests", "request")
    echoed = open311.get(f"{ROOT}/services.xml", params={"jurisdiction_id": "x\x0b\x01y"})
    [error] = xml_items(echoed, "errors", "error")

    assert item.findtext("description") == "漏水\ufffd\ufffd\ufffd\ufffd!"
    assert error.findtext("description") == "jurisdiction_id: x\ufffd\ufffdy is not served here"


def _relay_head(client: TestClient) -> int:
    operator = bearer("operator-1", "operator", scope={})
    return int(client.get("/ops/relay", headers=operator).json()["head"])


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_post_retried_with_its_idempotency_key_answers_the_first_answer_and_stores_nothing(
    open311: TestClient, fmt: str
) -> None:
    keyed = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    anonymous = {"email": None, "phone": None}
    first = open311.post(f"{ROOT}/requests.{fmt}", data=form(**anonymous), headers=keyed)
    head = _relay_head(open311)

    again = open311.post(f"{ROOT}/requests.{fmt}", data=form(**anonymous), headers=keyed)

    assert first.status_code == again.status_code == 200, again.text
    assert again.content == first.content
    assert _relay_head(open311) == head


def test_a_post_retried_after_the_requester_was_erased_seals_nothing_again(
    open311: TestClient, stores: dict[str, StoreSettings]
) -> None:
    keyed = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = open311.post(f"{ROOT}/requests.json", data=form(), headers=keyed)
    account = first.json()[0]["account_id"]
    operator = bearer("operator-1", "operator", scope={})
    order = {"reason": "居民本人申请删除"}
    erased = open311.post(f"/persons/{account}/erasure", json=order, headers=operator)
    assert erased.status_code == 200, erased.text

    again = open311.post(f"{ROOT}/requests.json", data=form(), headers=keyed)

    assert again.content == first.content
    vault = open311.app.state.tickets.dispatcher.vault  # type: ignore[attr-defined]
    assert vault.records(account) == {}
    stored = _file_bytes(stores["tickets"].sqlite_path)
    assert PERSONAL["phone"].encode() not in stored
    assert PERSONAL["email"].encode() not in stored


def _file_bytes(path: Path | None) -> bytes:
    assert path is not None
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


@pytest.mark.parametrize("who", ["email", "phone"])
def test_the_pseudonymous_account_cannot_be_computed_from_the_phone_or_email(
    open311: TestClient, who: str
) -> None:
    only = {"email": None, "phone": None, who: PERSONAL[who]}
    account = post(open311, "json", **only).json()[0]["account_id"]

    unkeyed = hashlib.sha256(f"civic-app\n{PERSONAL[who]}".encode()).hexdigest()
    assert account.startswith("open311:")
    assert account != f"open311:{unkeyed[:16]}"
    assert unkeyed[:16] not in account


def test_an_idempotency_key_reused_for_another_report_is_refused_in_the_error_format(
    open311: TestClient,
) -> None:
    keyed = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    open311.post(f"{ROOT}/requests.json", data=form(), headers=keyed).raise_for_status()

    other = open311.post(f"{ROOT}/requests.json", data=form(service_code="drainage"), headers=keyed)

    assert other.status_code == 422
    [(code, description)] = errors_of(other, "json")
    assert code == "422"
    assert description.startswith("Idempotency-Key: ")
