"""Every service's OpenAPI, fuzzed by schemathesis in-process: no request gets a server error.

Per operation: schemathesis's boundary cases, then valid and invalid requests generated from
its schema (derandomized, a bounded number), all sent through the real app, seeded with wishes:
the tickets service alone in memory; the ledger fed by it over a real nats-server and SQLite.
Each request carries a verified token of a role the operation allows, so generated data
reaches the handlers, not only the policy check.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python import asgi

from events.envelope import Role
from services.ledger.main import LedgerSettings
from services.ledger.main import create_app as create_ledger
from services.matching.main import create_app as create_matching
from services.notify.main import NotifySettings
from services.notify.main import create_app as create_notify
from services.runtime.policy import POLICY
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import create_app as create_tickets
from tests.conftest import OFFLINE_BUS, eventually, memory_store, tickets_settings
from tests.support.matching import matching_settings
from tests.support.tokens import auth_settings, bearer, token
from tests.tickets.helpers import STAFF, posting, unit
from tests.tickets.ticketing.ticket_helpers import request as ticket_request

FUZZ = settings(
    max_examples=25,  # per operation and mode: ~50 requests per operation
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
PLACE = {"district": "jinfeng", "street": "s01", "community": "c01", "grid": "g01"}
"""Where the seeded wishes live; generated slugs are rarely valid (the schema omits the pattern)."""
SEEDS = [("exclusive", 1), ("exclusive", 1), ("joint", 3)]
Ids = Mapping[str, list[str]]
Operation = APIOperation[Any, Any, Any, Any]
"""Schemathesis leaves an operation's parameter, response and security types open."""
_serial = itertools.count()


def actions(app: FastAPI) -> dict[tuple[str, str], str]:
    """The policy action behind each (method, path), read off the routes' `authorize` guards."""
    found: dict[tuple[str, str], str] = {}
    for context in iter_route_contexts(app.routes):  # resolves included routers
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path_format is None:
            continue
        stack = [route.dependant]
        while stack:
            dependant = stack.pop()
            if action := getattr(dependant.call, "action", None):
                found |= {(method, context.path_format): action for method in route.methods or ()}
            stack += dependant.dependencies
    return found


def actor(role: Role, case: Case[Operation]) -> dict[str, str]:
    """A fresh principal per request (rate limits would otherwise mask the handlers' answers),
    scoped everywhere, who is the person or unit the request names."""
    body = case.body if isinstance(case.body, dict) else {}
    named = {**body, **(case.path_parameters or {})}
    person = str(named.get("resident_id") or named.get("person_id") or "person-1")[:64]
    unit_id = str(named.get("unit_id") or "unit-1")[:64]
    signed = token(f"fuzz-{next(_serial)}", role.value, scope={}, person=person, unit=unit_id)
    return {"Authorization": f"Bearer {signed}"}


def use_known(case: Case[Operation], picks: Mapping[str, str | None]) -> None:
    """Put known places and ids where the request names them, so it can reach the domain."""
    body = case.body if isinstance(case.body, dict) else {}
    for part in (case.path_parameters, case.query, body):
        for name, value in picks.items():
            if value is not None and part is not None and name in part:
                part[name] = value


def fuzz(app: FastAPI, client: asgi.ASGIClient, ids: Ids) -> list[str]:
    """Every operation: its boundary cases, then generated valid and invalid data.

    The failures come back described, so one run reports them all.
    """
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    guarded = actions(app)
    failures = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        action = guarded.get((operation.method.upper(), operation.path))
        roles = sorted(POLICY[action].roles) if action else list(Role)
        try:
            _boundaries(schema, operation, roles, client)
        except Exception as exc:
            failures.append(f"{operation.label} (coverage): {exc}")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _examples(operation.as_strategy(generation_mode=mode), roles, ids, client)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to invalidate
            except Exception as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    return failures


def _boundaries(
    schema: BaseSchema, operation: Operation, roles: list[Role], client: asgi.ASGIClient
) -> None:
    """Schemathesis's coverage cases: each limit, missing field, wrong type and method, as is."""
    config = schema.config.generation_for(operation=operation, phase="coverage")
    cases = schema.iter_coverage_cases(
        operation, generation_modes=list(GenerationMode), generation_config=config
    )
    for case, role in zip(cases, itertools.cycle(roles), strict=False):
        case.call_and_validate(session=client, headers=actor(role, case),
                               checks=[not_a_server_error])  # fmt: skip


def _examples(
    cases: st.SearchStrategy[Case[Operation]], roles: list[Role], ids: Ids, client: asgi.ASGIClient
) -> None:
    sometimes = {name: st.one_of(st.none(), st.sampled_from(v)) for name, v in ids.items() if v}

    @FUZZ
    @given(case=cases, role=st.sampled_from(roles), picks=st.fixed_dictionaries(sometimes))
    def example(case: Case[Operation], role: Role, picks: dict[str, str | None]) -> None:
        use_known(case, {**PLACE, **picks})
        case.call_and_validate(session=client, headers=actor(role, case),
                               checks=[not_a_server_error])  # fmt: skip

    example()


@pytest.fixture
def in_process() -> Iterator[Callable[[FastAPI], asgi.ASGIClient]]:
    """Schemathesis's in-process client; it starts the app's lifespan, which schemathesis's
    pytest plugin ends as teardown begins."""
    with contextlib.ExitStack() as clients:
        yield lambda app: clients.enter_context(asgi.get_client(app))  # type: ignore[arg-type]
    asgi.shutdown_lifespans()


def seed_wish(client: asgi.ASGIClient, **changes: Any) -> str:
    """A wish posted and verified by community staff, open for claims."""
    answer = client.post("/wishes", json=posting(**changes), headers=STAFF)
    assert answer.status_code == 201, answer.text
    wish_id: str = answer.json()["wish"]["id"]
    verified = client.post(f"/wishes/{wish_id}/verification", headers=STAFF)
    assert verified.status_code == 200, verified.text
    return wish_id


@dataclass(frozen=True)
class Seeded:
    app: FastAPI
    client: asgi.ASGIClient
    wishes: list[str]
    tickets: list[str]
    disputes: list[str]


@pytest.fixture
def tickets(
    request: pytest.FixtureRequest,
    stores: dict[str, StoreSettings],
    in_process: Callable[[FastAPI], asgi.ASGIClient],
) -> Seeded:
    """The tickets service with open wishes, one of them claimed by `unit-1`; relaying to the
    bus only for a test that reads the ledger."""
    live = "bus" in request.fixturenames
    bus: BusSettings = request.getfixturevalue("bus") if live else OFFLINE_BUS
    app = create_tickets(tickets_settings(bus, stores["tickets"], relay_enabled=live))
    client = in_process(app)
    wishes = [seed_wish(client, claim_mode=mode, quota=quota) for mode, quota in SEEDS]
    claim = client.post(f"/wishes/{wishes[1]}/claims", json={"unit_id": "unit-1"},
                        headers=unit("unit-1"))  # fmt: skip
    assert claim.status_code == 201, claim.text
    tickets = [seed_ticket(client, dispatch=n > 0) for n in range(2)]
    disputes = [seed_dispute(client)]
    return Seeded(app, client, wishes, tickets, disputes)


def seed_ticket(client: asgi.ASGIClient, *, dispatch: bool) -> str:
    """A ticket at c01 (building b001), dispatched to `unit-1` when asked."""
    answer = client.post("/tickets", json=ticket_request(), headers=STAFF)
    assert answer.status_code == 201, answer.text
    ticket_id: str = answer.json()["ticket"]["id"]
    if dispatch:
        for path, body in (
            ("triage", {"category": "noise"}),
            ("dispatch", {"handler_id": "unit-1"}),
        ):
            done = client.post(f"/tickets/{ticket_id}/{path}", json=body, headers=STAFF)
            assert done.status_code == 200, done.text
    return ticket_id


def seed_dispute(client: asgi.ASGIClient) -> str:
    parties = [
        {"person_id": "person-1", "name": "王秀兰"},
        {"person_id": "person-2", "name": "李建国"},
    ]
    body: dict[str, Any] = {**PLACE, "kind": "neighbour", "parties": parties, "summary": "漏水"}
    answer = client.post("/disputes", json=body, headers=STAFF)
    assert answer.status_code == 201, answer.text
    dispute_id: str = answer.json()["dispute"]["id"]
    return dispute_id


def test_the_tickets_api_answers_generated_requests_without_a_server_error(
    tickets: Seeded,
) -> None:
    ids = {"wish_id": tickets.wishes, "person_id": ["person-1"], "unit_id": ["unit-1"],
           "ticket_id": tickets.tickets, "dispute_id": tickets.disputes,
           "handler_id": ["unit-1"], "party_id": ["person-1", "person-2"],
           "into_ticket_id": tickets.tickets}  # fmt: skip

    failures = fuzz(tickets.app, tickets.client, ids)

    assert not failures, "\n\n".join(failures)


def test_the_ledger_api_answers_generated_requests_without_a_server_error(
    tickets: Seeded,
    bus: BusSettings,
    stores: dict[str, StoreSettings],
    in_process: Callable[[FastAPI], asgi.ASGIClient],
) -> None:
    app = create_ledger(LedgerSettings(store=stores["ledger"], bus=bus, auth=auth_settings()))
    client = in_process(app)
    auditor = bearer("auditor-1", "auditor", scope={})
    eventually(lambda: client.get("/ledger/jinfeng/wishes", headers=auditor).json())

    failures = fuzz(app, client, {})

    assert not failures, "\n\n".join(failures)


OTHERS: dict[str, Callable[[], FastAPI]] = {
    "matching": lambda: create_matching(
        matching_settings(OFFLINE_BUS, memory_store(), relay_enabled=False)
    ),
    "notify": lambda: create_notify(NotifySettings(auth=auth_settings())),
}


@pytest.mark.parametrize("service", OTHERS)
def test_the_other_services_answer_generated_requests_without_a_server_error(
    service: str, in_process: Callable[[FastAPI], asgi.ASGIClient]
) -> None:
    app = OTHERS[service]()

    failures = fuzz(app, in_process(app), {})

    assert not failures, "\n\n".join(failures)
