"""A small district's history, written once by the tickets service into an SQLite store that
is committed as stored data (`store.sqlite`, with what it must answer in `expected.json`).

Every family is in it — wishes, tickets (one over Open311), a door-knock visit, a dispute —
with idempotency receipts, sealed personal data and one erasure. A release that moves the
code must still open this store, replay it and relay it identically
(`test_stored_store.py`); `python -m tests.stored.write_store` writes it afresh, on purpose
only (the store is the old release's output, not today's).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from services.runtime.replay import ReplayClient
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import TicketsSettings
from tests.support.tokens import auth_settings, bearer
from tests.tickets.helpers import OPERATOR, RESIDENT, STAFF, posting, unit
from tests.tickets.mediation.dispute_cases import MEDIATOR, new_dispute
from tests.tickets.ticketing.ticket_helpers import (
    GRID,
    GRID_WORKER,
    SECRETARY,
    dispatched,
    handler,
    step,
)

HERE = Path(__file__).parent
STORE = HERE / "store.sqlite"
EXPECTED = HERE / "expected.json"
TERRITORY = HERE / "territory.json"
"""The demo district cut down to community c01 (the store keeps what it imported)."""
MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
"""A test key, known to everyone: the store's personal data is made up."""
OPEN311_KEY = "stored-civic-app-key"
FEEDS = ("tickets.wish", "tickets.ticket", "tickets.visit", "tickets.dispute")
REASON = {"reason": "核对台账"}


def settings(bus: BusSettings, store: Path, folder: Path) -> TicketsSettings:
    """The tickets service on `store`, with the key and API key the store was written with."""
    keys = [{"id": "civic-app", "sha256": hashlib.sha256(OPEN311_KEY.encode()).hexdigest(),
             "role": "community_staff", "scope": {"district": "jinfeng"}}]  # fmt: skip
    (folder / "api-keys.json").write_text(json.dumps(keys), encoding="utf-8")
    auth = auth_settings().model_copy(update={"api_keys_file": folder / "api-keys.json"})
    return TicketsSettings(
        store=StoreSettings(sqlite_path=store), bus=bus, master_key=MASTER_KEY, auth=auth,
        poll_seconds=0.05, territory_files=[TERRITORY],
    )  # fmt: skip


def _ok(response: Any) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def write_history(client: TestClient) -> dict[str, str]:
    """Every family's events through the HTTP API, as people would cause them; their ids."""
    keyed = {"Idempotency-Key": "stored-wish-1"}
    fed = _ok(client.post("/wishes", json=posting(), headers={**RESIDENT, **keyed}))["wish"]["id"]
    _ok(client.post("/wishes", json=posting(), headers={**RESIDENT, **keyed}))  # a retry
    _ok(client.post(f"/wishes/{fed}/verification", headers=STAFF))
    _ok(client.post(f"/wishes/{fed}/claims", json={"unit_id": "unit-a"}, headers=unit("unit-a")))
    _ok(client.post(f"/wishes/{fed}/fulfilment", json={"unit_id": "unit-a"},
                    headers=unit("unit-a")))  # fmt: skip
    _ok(client.post(f"/wishes/{fed}/fulfilment/verification", headers=STAFF))
    _ok(client.post(f"/wishes/{fed}/acknowledgement", json={"rating": 5}, headers=RESIDENT))
    erased_body = posting(resident_id="person-2", title="修一修轮椅",
                          contact={"name": "李建国", "phone": "13900001111"})  # fmt: skip
    erased = _ok(client.post("/wishes", json=erased_body, headers=STAFF))["wish"]["id"]
    _ok(client.post(f"/wishes/{erased}/verification", headers=STAFF))
    rejected = _ok(client.post("/wishes", json=posting(title="要一台电视"), headers=RESIDENT))
    _ok(client.post(f"/wishes/{rejected['wish']['id']}/rejection",
                    json={"reason": "not_a_wish"}, headers=STAFF))  # fmt: skip

    fixed = dispatched(client)
    unit_a = {"handler_id": "unit-a"}
    step(client, fixed, "acceptance", unit_a, handler())
    step(client, fixed, "work", unit_a, handler())
    step(client, fixed, "resolution", {**unit_a, "amount": "1200.50", "note": "拆除飞线"},
         handler())  # fmt: skip
    step(client, fixed, "verification", {"passed": True}, SECRETARY)
    step(client, fixed, "rating", {"rating": 4}, RESIDENT)
    proactive = _ok(client.post("/tickets", json={
        **GRID, "building": "b002", "channel": "grid_patrol", "proactive": True,
        "title": "路灯不亮", "description": "巡查发现二号楼前路灯坏了",
    }, headers=GRID_WORKER))["ticket"]["id"]  # fmt: skip
    civic = client.post("/open311/v2/requests.json", data={
        "api_key": OPEN311_KEY, "jurisdiction_id": "jinfeng", "service_code": "roof_leak",
        "address_id": "c01/b001", "description": "屋顶漏水", "email": "wang@example.org",
        "first_name": "秀兰", "last_name": "王",
    }, headers={"Idempotency-Key": "stored-open311-1"})  # fmt: skip
    open311 = _ok(civic)[0]["service_request_id"]

    visit = _ok(client.post("/visits", json={
        **GRID, "households": 3, "notes": "独居老人，需要送餐",
        "findings": [{"title": "楼道灯坏了", "category": "lighting"}],
    }, headers=GRID_WORKER))["visit_id"]  # fmt: skip

    dispute = new_dispute(client, "agreed")
    _ok(client.post("/persons/person-2/erasure", json={"reason": "居民本人申请删除"},
                    headers=OPERATOR))  # fmt: skip
    return {"fed_wish": fed, "erased_wish": erased, "rejected_wish": rejected["wish"]["id"],
            "fixed_ticket": fixed, "proactive_ticket": proactive, "open311_request": open311,
            "visit": visit, "dispute": dispute}  # fmt: skip


def reads(ids: dict[str, str]) -> dict[str, tuple[str, dict[str, str]]]:
    """What the store must answer, by name: a path and who asks."""
    restricted = "?reason=%E6%A0%B8%E5%AF%B9%E5%8F%B0%E8%B4%A6"  # 核对台账
    contact_reader = bearer("staff-1", "community_staff")
    return {
        "fed wish": (f"/wishes/{ids['fed_wish']}", STAFF),
        "erased wish": (f"/wishes/{ids['erased_wish']}", STAFF),
        "rejected wish": (f"/wishes/{ids['rejected_wish']}", STAFF),
        "erased contact": (f"/wishes/{ids['erased_wish']}/contact{restricted}", contact_reader),
        "fed contact": (f"/wishes/{ids['fed_wish']}/contact{restricted}", contact_reader),
        "fixed ticket": (f"/tickets/{ids['fixed_ticket']}", SECRETARY),
        "proactive ticket": (f"/tickets/{ids['proactive_ticket']}", SECRETARY),
        "open311 request": (f"/open311/v2/requests/{ids['open311_request']}.json", SECRETARY),
        "visit notes": (f"/visits/{ids['visit']}{restricted}", GRID_WORKER),
        "dispute": (f"/disputes/{ids['dispute']}", MEDIATOR),
        "agreement": (f"/disputes/{ids['dispute']}/agreement{restricted}", MEDIATOR),
    }


def answers(client: TestClient, ids: dict[str, str]) -> dict[str, Any]:
    """Each read's status and body."""
    seen = {}
    for name, (path, headers) in reads(ids).items():
        response = client.get(path, headers=headers)
        seen[name] = {"status": response.status_code, "body": response.json()}
    return seen


def replayed(bus: BusSettings) -> dict[str, Any]:
    """Every feed as the service replays it to a consumer that lost it: head and events."""

    async def pages() -> dict[str, Any]:
        replay = ReplayClient(bus, "stored-store")
        try:
            feeds = {}
            for feed in FEEDS:
                head, events = await replay.page(feed, 0)
                feeds[feed] = {"head": head, "events": [json.loads(e) for e in events]}
            return feeds
        finally:
            await replay.close()

    return asyncio.run(pages())


def written_at(expected: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(expected["written_at"])
