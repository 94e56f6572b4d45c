"""Open311 GeoReport v2 over the tickets, so existing civic-reporting clients work unchanged.

One jurisdiction per router: the district. The services are the routing rules in effect; a
posted request becomes a ticket received on the `open311` channel. Reads are public (civic
clients read anonymously) and show public fields only: the description is the ticket's
public title, never what the resident wrote. Posting needs an `api_key` form field.

Requests are created synchronously, so the token of a request is its ticket id; `GET
/tokens/{token}` answers it for clients written for asynchronous servers. Every refusal
uses the specification's error format, never the service's JSON error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from events.tickets import Channel
from services.runtime.access import caller_of
from services.runtime.commands import Caller, personal_digest
from services.runtime.idempotency import IdempotencyKeyReusedError
from services.runtime.identity import Access
from services.runtime.policy import POLICY, ForbiddenError
from services.runtime.text import TITLE_MAX
from services.tickets.atlas import Atlas
from services.tickets.routing import CategoryRule, NoRulesError, RoutingError, RuleVersion
from services.tickets.territory import UnknownPlaceError
from services.tickets.ticketing.application import Dispatcher, TicketSnapshot
from services.tickets.ticketing.domain import (
    OPEN_STATES,
    InvalidTicketError,
    TicketNotFoundError,
)
from services.tickets.ticketing.open311_format import (
    FORMATS,
    Open311Error,
    Submission,
    error,
    form_of,
    format_of,
    listed,
    record,
    records,
    ticket_id_of,
    w3,
    w3_datetime,
    window,
)
from services.tickets.ticketing.open311_place import place_of
from services.tickets.ticketing.view import TicketDeskView, TicketRow

MAX_RESULTS = 1000
MAX_KEY = 128
"""The longest Idempotency-Key, as for every other write."""
UNTRIAGED = "untriaged"
"""The service code of a request not yet triaged (the specification requires a code on every
request). It is a service of its own, so a client may also leave the category to the
community."""
UNTRIAGED_NAME = "待分类"
UNTRIAGED_SERVICE: dict[str, Any] = {
    "service_code": UNTRIAGED, "service_name": UNTRIAGED_NAME,
    "description": "Not yet triaged: the community chooses the category", "metadata": False,
    "type": "realtime", "keywords": "Untriaged", "group": "community",
}  # fmt: skip
STATUSES = {"open": sorted(OPEN_STATES), "closed": ["closed", "closed_not_fixed", "merged"]}
Work = Callable[[str], Awaitable[Response]]
REFUSED = (
    Open311Error, ForbiddenError, TicketNotFoundError, UnknownPlaceError, InvalidTicketError,
    RoutingError, IdempotencyKeyReusedError,
)  # fmt: skip


def open311_router(
    dispatcher: Dispatcher,
    view: TicketDeskView,
    atlas: Atlas,
    jurisdiction: str,
    locate_radius_m: float = 100.0,
) -> APIRouter:
    """`locate_radius_m`: how far from a building a request by coordinates outside every
    grid's outline may be and still be placed at that building."""
    router = APIRouter(prefix="/open311/v2", tags=["open311"])

    def rules() -> RuleVersion:
        return atlas.rulebook(jurisdiction).in_effect(dispatcher.commands.clock())

    def names() -> dict[str, str]:
        known = {UNTRIAGED: UNTRIAGED_NAME}
        try:
            return {**known, **{rule.code: rule.name.zh for rule in rules().categories}}
        except (RoutingError, UnknownPlaceError):
            return known  # the requests are still listed, without their service names

    def require_jurisdiction(given: str | None) -> None:
        if given is not None and given != jurisdiction:
            raise Open311Error(404, f"jurisdiction_id: {given[:40]} is not served here")

    async def answer(request: Request, format: str, work: Work) -> Response:
        fmt = format if format in FORMATS else "json"
        try:
            format_of(format)
            require_jurisdiction(request.query_params.get("jurisdiction_id"))
            return await work(fmt)
        except REFUSED as e:
            return error(fmt, _refusal(e))

    async def service_rule(code: str, status: int) -> CategoryRule | None:
        """The rule of a service code; None for the untriaged service, which has none."""
        if code == UNTRIAGED:
            return None
        return _service_named(await run_in_threadpool(rules), code, status)

    async def one_ticket(service_request_id: str) -> TicketSnapshot:
        ticket = await run_in_threadpool(dispatcher.get_ticket, ticket_id_of(service_request_id))
        if ticket.district != jurisdiction:
            raise TicketNotFoundError(ticket.id)
        return ticket

    @router.get("/services.{format}", response_class=Response)
    async def service_list(request: Request, format: str) -> Response:
        """The service types: the routing rules in effect for the district."""

        async def work(fmt: str) -> Response:
            found = await run_in_threadpool(rules)
            rows = [*(_service(rule) for rule in found.categories), UNTRIAGED_SERVICE]
            return records(fmt, "services", "service", rows)

        return await answer(request, format, work)

    @router.get("/services/{service_code}.{format}", response_class=Response)
    async def service_definition(request: Request, service_code: str, format: str) -> Response:
        """No service has extra attributes (`metadata` is false), so the list is empty."""

        async def work(fmt: str) -> Response:
            await service_rule(service_code, 404)  # refuses an unknown code
            definition = {"service_code": service_code, "attributes": []}
            return record(fmt, "service_definition", definition)

        return await answer(request, format, work)

    @router.post("/requests.{format}", response_class=Response)
    async def create_request(request: Request, format: str) -> Response:
        """A service request, posted form-encoded with the client's `api_key`. Answered 200,
        as GeoReport clients expect (the specification names no other status)."""

        async def work(fmt: str) -> Response:
            form = await form_of(request)
            require_jurisdiction(form.get("jurisdiction_id"))
            caller = _caller(request, form.get("api_key"))
            submission = Submission.of(form)
            rule = await service_rule(form["service_code"], 400)
            place, building = await run_in_threadpool(
                place_of, atlas, jurisdiction, submission, locate_radius_m
            )
            requester = _requester_id(dispatcher, submission, caller)
            outcome = await run_in_threadpool(
                lambda: dispatcher.receive(
                    caller,
                    place=place,
                    channel=Channel.OPEN311,
                    proactive=False,
                    requester_id=requester,
                    title=(rule.name.zh if rule else UNTRIAGED_NAME)[:TITLE_MAX],
                    category=rule.code if rule else None,
                    building=building,
                    personal=submission.personal() or None,
                )
            )
            ticket_id = str(outcome.ticket.id)
            created = {"service_request_id": ticket_id, "service_notice": None,
                       "account_id": outcome.ticket.requester_id, "token": ticket_id}  # fmt: skip
            return records(fmt, "service_requests", "request", [created])

        return await answer(request, format, work)

    @router.get("/requests.{format}", response_class=Response)
    async def request_list(request: Request, format: str) -> Response:
        """Filters: service_request_id (overrides the others), service_code, status,
        start_date and end_date; the last 90 days by default; at most 1000, newest first."""

        async def work(fmt: str) -> Response:
            q = request.query_params
            given = listed("service_request_id", q.get("service_request_id"))
            ids = [str(ticket_id_of(v, 400)) for v in given]
            search: dict[str, Any] = {"ids": ids}
            if not ids:
                search = _filters(q.get, dispatcher.commands.clock())
            rows = await run_in_threadpool(
                lambda: view.tickets(district=jurisdiction, limit=MAX_RESULTS, **search)
            )
            known = await run_in_threadpool(names)
            return records(fmt, "service_requests", "request", [_request(r, known) for r in rows])

        return await answer(request, format, work)

    @router.get("/requests/{service_request_id}.{format}", response_class=Response)
    async def one_request(request: Request, service_request_id: str, format: str) -> Response:
        async def work(fmt: str) -> Response:
            row = _row(await one_ticket(service_request_id))
            known = await run_in_threadpool(names)
            return records(fmt, "service_requests", "request", [_request(row, known)])

        return await answer(request, format, work)

    @router.get("/tokens/{token}.{format}", response_class=Response)
    async def token_lookup(request: Request, token: str, format: str) -> Response:
        """The token is the ticket id (requests are created synchronously)."""

        async def work(fmt: str) -> Response:
            ticket_id = str((await one_ticket(token)).id)
            found = {"service_request_id": ticket_id, "token": ticket_id}
            return records(fmt, "service_requests", "request", [found])

        return await answer(request, format, work)

    return router


def _refusal(e: Exception) -> Open311Error:
    """Each refusal as the specification's error: its status, and a description naming the
    field where there is one."""
    if isinstance(e, Open311Error):
        return e
    if isinstance(e, ForbiddenError):
        return Open311Error(403, f"api_key: {e}")
    if isinstance(e, TicketNotFoundError):
        return Open311Error(404, "service_request_id: not found")
    if isinstance(e, IdempotencyKeyReusedError):
        return Open311Error(422, f"Idempotency-Key: {e}")
    if isinstance(e, NoRulesError) or getattr(e, "field", None) == "district":
        return Open311Error(404, f"jurisdiction_id: {e}")
    if isinstance(e, RoutingError) and not hasattr(e, "field"):
        return Open311Error(400, f"service_code: {e}")
    return Open311Error(400, str(e))


def _service_named(rules: RuleVersion, code: str, status: int) -> CategoryRule:
    for rule in rules.categories:
        if rule.code == code:
            return rule
    raise Open311Error(status, f"service_code: {code[:40]} is not a service")


def _filters(get: Callable[[str], str | None], now: datetime) -> dict[str, Any]:
    statuses = set(listed("status", get("status")))
    if unknown := statuses - STATUSES.keys():
        raise Open311Error(400, f"status: {', '.join(sorted(unknown))[:40]} (open or closed)")
    start, end = (
        w3_datetime(name, value) if (value := get(name)) else None
        for name in ("start_date", "end_date")
    )
    start, end = window(start, end, now)
    states = STATUSES[statuses.pop()] if len(statuses) == 1 else []
    codes = listed("service_code", get("service_code"))
    return {"categories": [c for c in codes if c != UNTRIAGED], "untriaged": UNTRIAGED in codes,
            "states": states, "received_from": start, "received_until": end}  # fmt: skip


def _caller(request: Request, api_key: str | None) -> Caller:
    """The client's API key stands for its system, held to the `ticket.receive` policy."""
    if not api_key:
        raise Open311Error(401, "api_key: required to post a service request")
    try:
        principal = request.app.state.authenticator.verify_api_key(api_key)
    except HTTPException:  # the authenticator's 401: the key is not known
        raise Open311Error(403, "api_key: invalid api_key received") from None
    rule = POLICY["ticket.receive"]
    if principal.role not in rule.roles:
        raise Open311Error(403, f"api_key: a {principal.role.value} may not post requests")
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_KEY:
        raise Open311Error(400, f"Idempotency-Key: 1–{MAX_KEY} characters")
    return caller_of(Access(principal, "ticket.receive", rule, idempotency_key=key))


def _requester_id(dispatcher: Dispatcher, submission: Submission, caller: Caller) -> str:
    """Pseudonymous and stable per client and person: a keyed digest, so it cannot be
    computed from a phone number without the service's master key. A report naming nobody
    gets a requester of its own, the same for each retry with its Idempotency-Key."""
    seed = submission.requester(caller.actor_id) or {
        "client": caller.actor_id, "report": caller.idempotency_key or uuid4().hex,
    }  # fmt: skip
    digest = personal_digest(dispatcher.vault, seed)
    assert digest is not None, "a seed is never empty"
    return f"open311:{digest[:16]}"


def _service(rule: CategoryRule) -> dict[str, Any]:
    return {"service_code": rule.code, "service_name": rule.name.zh,
            "description": rule.description, "metadata": False, "type": "realtime",
            "keywords": rule.name.en, "group": rule.group}  # fmt: skip


def _row(t: TicketSnapshot) -> TicketRow:
    return TicketRow(
        ticket_id=str(t.id), district=t.district, street=t.street, community=t.community,
        grid=t.grid, building=t.building, channel=t.channel.value, proactive=t.proactive,
        requester_id=t.requester_id,
        title=t.title, category=t.category, state=t.state.value, level=t.level,
        handler_id=t.handler_id, rule_version=t.rule_version,
        merged_into=str(t.merged_into) if t.merged_into else None,
        due_at=t.deadline.due_at if t.deadline else None, received_at=t.received_at,
        updated_at=t.updated_at,
    )  # fmt: skip


def _request(row: TicketRow, names: dict[str, str]) -> dict[str, Any]:
    """A ticket as a GeoReport service request: public fields only."""
    level = {"grid": row.grid, "community": row.community, "street": row.street,
             "district": row.district}.get(row.level)  # fmt: skip
    place = [row.district, row.street, row.community, row.building]
    return {
        "service_request_id": row.ticket_id,
        "status": "open" if row.state in OPEN_STATES else "closed",
        "status_notes": row.state,
        "service_name": names.get(row.category or UNTRIAGED),
        "service_code": row.category or UNTRIAGED,
        "description": row.title,
        "agency_responsible": f"{row.level} {level}" if level else row.level,
        "service_notice": None,
        "requested_datetime": w3(row.received_at),
        "updated_datetime": w3(row.updated_at),
        "expected_datetime": w3(row.due_at),
        "address": "/".join(p for p in place if p),
        "address_id": f"{row.community}/{row.building}" if row.building else None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }
