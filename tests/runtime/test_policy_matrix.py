"""A generated matrix of role × territory × endpoint, enforced against the one policy table.

Every allowed call succeeds, every other is refused with 403; an endpoint with no policy
entry (or no case here) fails the suite.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from events.envelope import Role
from services.ledger.main import LedgerSettings
from services.ledger.main import create_app as create_ledger
from services.matching.main import create_app as create_matching
from services.notify.main import NotifySettings
from services.notify.main import create_app as create_notify
from services.runtime.policy import POLICY
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import create_app as create_tickets
from tests.conftest import eventually, tickets_settings
from tests.ledger.ledger_cases import LEDGER_CASES
from tests.matching.matching_cases import MATCHING_CASES
from tests.support.matching import matching_settings
from tests.support.matrix import Case, actor, allowed, new_wish, parked_cases, scopes
from tests.support.tokens import auth_settings, bearer
from tests.tickets.helpers import STAFF, posting, unit
from tests.tickets.mediation.dispute_cases import DISPUTE_CASES, filing
from tests.tickets.ticketing.ticket_cases import TICKET_CASES
from tests.tickets.ticketing.ticket_helpers import GRID_WORKER
from tests.tickets.ticketing.ticket_helpers import request as ticket_request

PUBLIC_PATHS = {
    "/health",
    "/health/live",
    "/health/ready",
    "/asyncapi.json",
    "/openapi.json",
    "/signin",
    "/signout",
    "/open311/v2/services.{format}",
    "/open311/v2/services/{service_code}.{format}",
    "/open311/v2/requests.{format}",
    "/open311/v2/requests/{service_request_id}.{format}",
    "/open311/v2/tokens/{token}.{format}",
}
"""Open to anyone (the sign-in page is how one gets a token)."""


def _on(
    upto: str, suffix: str, body: Any = None, **changes: Any
) -> Callable[[TestClient], dict[str, Any]]:
    def prepare(tickets: TestClient) -> dict[str, Any]:
        return {"url": f"/wishes/{new_wish(tickets, upto, **changes)}{suffix}", "json": body}

    return prepare


def _erasing(record: Callable[[TestClient, str], None]) -> Case:
    """An erasure of a new person whose only record (at c01) `record` makes; the case's action
    is the policy entry for erasing that kind of record."""

    def prepare(tickets: TestClient) -> dict[str, Any]:
        person = f"person-{uuid.uuid4().hex[:8]}"
        record(tickets, person)
        return {"url": f"/persons/{person}/erasure", "json": {"reason": "居民本人申请删除"}}

    kind = record.__name__.removeprefix("_a_")
    action = f"person.erase.{kind}"

    def expect(role: Role, where: str, response: Any) -> bool:
        """A role that may erase such records, but none of this person's, is told there is no
        such person (a 403 would say where they are)."""
        if allowed(action, role, where):
            return bool(response.status_code < 300)
        if role in POLICY[action].roles:
            return bool(response.status_code == 404)
        return bool(response.status_code == 403)

    return Case("POST", "/persons/{person_id}/erasure", action, prepare, expect=expect)


def _a_wish(tickets: TestClient, person: str) -> None:
    tickets.post("/wishes", json=posting(resident_id=person), headers=STAFF).raise_for_status()


def _a_ticket(tickets: TestClient, person: str) -> None:
    body = ticket_request(requester_id=person)
    tickets.post("/tickets", json=body, headers=STAFF).raise_for_status()


def _a_visit(tickets: TestClient, person: str) -> None:
    place = {"district": "jinfeng", "street": "s01", "community": "c01", "grid": "g01"}
    body = {**place, "households": 1, "household_ids": [person], "notes": "独居老人"}
    tickets.post("/visits", json=body, headers=GRID_WORKER).raise_for_status()


def _a_dispute(tickets: TestClient, person: str) -> None:
    parties = [{"person_id": "person-2", "name": "张建国"}, {"person_id": person, "name": "王秀兰"}]
    tickets.post("/disputes", json=filing(parties=parties), headers=STAFF).raise_for_status()


def _soon_expiring(tickets: TestClient) -> dict[str, Any]:
    """A wish due to expire in a minute, then the service's clock moved past it."""
    clock = tickets.app.state.clock  # type: ignore[attr-defined]
    expires = clock() + timedelta(minutes=1)
    wish_id = new_wish(tickets, "open", expires_at=expires.isoformat())
    clock.advance(timedelta(minutes=1, seconds=1))
    return {"url": f"/wishes/{wish_id}/expiry", "json": None}


CASES: list[Case] = [
    Case("POST", "/wishes", "wish.post", lambda _: {"url": "/wishes", "json": posting()}),
    Case(
        "GET",
        "/wishes",
        "wish.read",
        lambda _: {"url": "/wishes?district=jinfeng&community=c01", "json": None},
    ),
    Case("GET", "/wishes/{wish_id}", "wish.read", _on("open", "")),
    Case(
        "POST", "/wishes/{wish_id}/verification", "wish.verify", _on("submitted", "/verification")
    ),
    Case(
        "POST",
        "/wishes/{wish_id}/rejection",
        "wish.reject",
        _on("submitted", "/rejection", {"reason": "duplicate"}),
    ),
    Case(
        "POST",
        "/wishes/{wish_id}/claims",
        "wish.claim",
        _on("open", "/claims", {"unit_id": "unit-m"}),
    ),
    Case(
        "POST",
        "/wishes/{wish_id}/claims/{unit_id}/release",
        "wish.release",
        _on("claimed", "/claims/unit-m/release", {"reason": "other"}),
    ),
    Case(
        "POST",
        "/wishes/{wish_id}/fulfilment",
        "wish.report_fulfilment",
        _on("claimed", "/fulfilment", {"unit_id": "unit-m"}),
    ),
    Case(
        "POST",
        "/wishes/{wish_id}/fulfilment/verification",
        "wish.verify_fulfilment",
        _on("reported", "/fulfilment/verification"),
    ),
    Case(
        "POST",
        "/wishes/{wish_id}/acknowledgement",
        "wish.acknowledge",
        _on("fulfilled", "/acknowledgement", {"rating": 4}),
    ),
    Case(
        "POST",
        "/wishes/{wish_id}/withdrawal",
        "wish.withdraw",
        _on("open", "/withdrawal", {"reason": "other"}),
    ),
    Case("POST", "/wishes/{wish_id}/expiry", "wish.expire", _soon_expiring),
    Case("GET", "/ops/relay", "ops.read", lambda _: {"url": "/ops/relay", "json": None}),
    Case(
        "GET", "/ops/relay/parked", "ops.read", lambda _: {"url": "/ops/relay/parked", "json": None}
    ),
    Case(
        "POST",
        "/ops/relay/parked/{parked_id}/retry",
        "ops.repair",
        lambda _: {"url": "/ops/relay/parked/1/retry", "json": None},
        expect=lambda role, where, response: (
            response.status_code == 404
            and response.json()["error"]["code"] == "relay.parked_not_found"
            if allowed("ops.repair", role, where)
            else response.status_code == 403
        ),
    ),
    Case("GET", "/wishes/{wish_id}/contact", "wish.contact", _on("open", "/contact")),
    *[_erasing(record) for record in (_a_wish, _a_ticket, _a_visit, _a_dispute)],
    Case(
        "GET",
        "/ops/personal-access",
        "ops.read",
        lambda _: {"url": "/ops/personal-access", "json": None},
    ),
    Case(
        "GET",
        "/ledger/{district}/wishes",
        "ledger.read",
        lambda _: {"url": "/ledger/jinfeng/wishes", "json": None},
        "ledger",
        filtered=True,
    ),
    Case(
        "GET",
        "/ledger/{district}/{community}/wishes",
        "ledger.read",
        lambda _: {"url": "/ledger/jinfeng/c01/wishes", "json": None},
        "ledger",
    ),
    Case(
        "GET",
        "/ops/consumer",
        "ops.read",
        lambda _: {"url": "/ops/consumer", "json": None},
        "ledger",
    ),
]
CASES += [*TICKET_CASES, *DISPUTE_CASES, *LEDGER_CASES, *MATCHING_CASES]
CASES += [case for service in ("tickets", "ledger", "matching") for case in parked_cases(service)]


def _routes(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """Every APIRoute with its full path, through routers included at any depth."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):  # FastAPI's record of an included router
            inner = prefix + route.include_context.prefix
            found += _routes(route.original_router.routes, inner)
    return found


def _actions(app: FastAPI) -> dict[tuple[str, str], str | None]:
    """Each route's policy action, found on its dependencies (None when it has none)."""
    found: dict[tuple[str, str], str | None] = {}
    for path, route in _routes(list(app.routes)):
        if path in PUBLIC_PATHS:
            continue
        stack, action = [route.dependant], None
        while stack:
            dependant = stack.pop()
            action = action or getattr(dependant.call, "action", None)
            stack += dependant.dependencies
        for method in route.methods or ():
            found[(method, path)] = action
    return found


PAGES = ("/board/", "/wall/", "/unit/", "/coordinate/")
"""The server-rendered pages (tests/tickets/test_signin.py, tests/matching/test_page_access.py)."""


def test_every_endpoint_of_every_service_has_a_policy_and_a_matrix_case() -> None:
    offline = BusSettings(url="nats://127.0.0.1:1")  # built, never started: no I/O
    store = StoreSettings(sqlite_path=Path("never-opened.sqlite"))
    apps = {
        "tickets": create_tickets(tickets_settings(offline, store)),
        "ledger": create_ledger(LedgerSettings(store=store, bus=offline, auth=auth_settings())),
        "matching": create_matching(matching_settings(offline, store)),
        "notify": create_notify(NotifySettings(auth=auth_settings())),
    }
    covered = {(c.service, c.method, c.path) for c in CASES}
    seen = 0
    for service, app in apps.items():
        assert isinstance(app, FastAPI)
        for (method, path), action in _actions(app).items():
            if path.startswith(PAGES):
                assert action in POLICY, (method, path)
                continue  # the pages' refusals are tested with the pages
            assert action is not None, f"{service} {method} {path} has no policy"
            assert action in POLICY, f"{service} {method} {path}: unknown action {action}"
            assert (service, method, path) in covered, f"{service} {method} {path} has no case"
            seen += 1
    assert seen == len(covered)  # the discovery itself found every route we have cases for


def _case_id(case: Case) -> str:
    return f"{case.method} {case.path} {case.action}"


@pytest.mark.parametrize("case", [c for c in CASES if c.service == "tickets"], ids=_case_id)
def test_each_role_inside_and_outside_its_territory_is_allowed_exactly_as_the_policy_says(
    case: Case, tickets: TestClient
) -> None:
    _assert_as_the_policy_says(case, tickets, tickets)


@pytest.mark.parametrize("case", [c for c in CASES if c.service == "ledger"], ids=_case_id)
def test_each_role_reads_the_ledger_inside_and_outside_its_territory_as_the_policy_says(
    case: Case, tickets: TestClient, ledger: TestClient
) -> None:
    new_wish(tickets, "open")
    eventually(lambda: ledger.get("/ledger/jinfeng/c01/wishes").json().get("wishes") == 1)
    _assert_as_the_policy_says(case, tickets, ledger)


@pytest.mark.parametrize("case", [c for c in CASES if c.service == "matching"], ids=_case_id)
def test_each_role_uses_the_registry_and_lists_inside_and_outside_its_territory_as_policy_says(
    case: Case, matching: TestClient
) -> None:
    _assert_as_the_policy_says(case, matching, matching)


def _assert_as_the_policy_says(case: Case, tickets: TestClient, client: TestClient) -> None:
    """Every role, inside and outside its territory: allowed calls succeed, others get 403
    (or what the case expects); `client` is the service the case calls."""
    mismatches = []
    for role in Role:
        if role is Role.SYSTEM:
            continue  # the system actor has no token; it acts inside the services
        for where, scope in scopes(role).items():
            request = case.prepare(tickets)
            response = client.request(
                case.method, request["url"], json=request["json"], headers=actor(role, scope)
            )
            if case.expect is not None:
                ok = case.expect(role, where, response)
            elif case.filtered:
                ok = _filtered_as_expected(case, role, where, scope, response.status_code,
                                           response.json())  # fmt: skip
            elif allowed(case.action, role, where):
                ok = response.status_code < 300
            else:
                ok = response.status_code == 403
            if not ok:
                mismatches.append(
                    f"{role.value}/{where}: {response.status_code} {response.text[:120]}"
                )
    assert not mismatches, "\n".join(mismatches)


def _filtered_as_expected(
    case: Case, role: Role, where: str, scope: dict[str, str], status: int, body: Any
) -> bool:
    """Allowed roles of the district get 200 with c01 listed only when it is inside."""
    if role not in POLICY[case.action].roles or scope.get("district") not in (None, "jinfeng"):
        return status == 403
    listed = status == 200 and any(row["community"] == "c01" for row in body)
    return status == 200 and listed == (where == "inside")


def test_a_resident_acts_only_for_themselves_and_staff_act_on_their_behalf(
    tickets: TestClient,
) -> None:
    other = bearer("resident-2", "resident", person="person-2")
    refused = tickets.post("/wishes", json=posting(), headers=other)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "policy.not_your_own"
    posted = tickets.post("/wishes", json=posting(), headers=STAFF)
    assert posted.status_code == 201
    wish_id = posted.json()["wish"]["id"]
    board = tickets.app.state.tickets.store  # type: ignore[attr-defined]
    [posted_event] = [
        board.mapper.to_domain_event(n)
        for n in board.recorder.select_notifications(1, 100)
        if str(n.originator_id) == wish_id
    ]
    assert posted_event.stamp.on_behalf_of == "person-1"
    assert posted_event.stamp.actor_id == "staff-1"


def test_unit_staff_act_only_for_their_own_unit(tickets: TestClient) -> None:
    wish_id = new_wish(tickets, "open")
    response = tickets.post(
        f"/wishes/{wish_id}/claims", json={"unit_id": "unit-z"}, headers=unit("unit-m")
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "policy.not_your_unit"
