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
)
from services.tickets.ticketing.open311_place import place_of
from services.tickets.ticketing.open311_records import (
    MAX_RESULTS,
    UNTRIAGED,
    UNTRIAGED_NAME,
    UNTRIAGED_SERVICE,
    filters,
    row_of,
    service,
    service_request,
)
from services.tickets.ticketing.view import TicketDeskView

MAX_KEY = 128
"""The longest Idempotency-Key, as for every other write."""
Work = Callable[[str], Awaitable[Response]]
REFUSED = (
    Open311Error, ForbiddenError, TicketNotFoundError, UnknownPlaceError, InvalidTicketError,
    RoutingError, IdempotencyKeyReusedError,
)  # fmt: skip


class Jurisdiction:
    """What both Open311 routers share: the district served, its rules, its tickets, and the
    specification's way of answering (a format, the jurisdiction check, refusals as errors)."""

    def __init__(
        self, dispatcher: Dispatcher, view: TicketDeskView, atlas: Atlas, district: str,
        locate_radius_m: float,
    ) -> None:  # fmt: skip
        self.dispatcher, self.view, self.atlas = dispatcher, view, atlas
        self.district, self.locate_radius_m = district, locate_radius_m

    def rules(self) -> RuleVersion:
        return self.atlas.rulebook(self.district).in_effect(self.dispatcher.commands.clock())

    def names(self) -> dict[str, str]:
        known = {UNTRIAGED: UNTRIAGED_NAME}
        try:
            return {**known, **{rule.code: rule.name.zh for rule in self.rules().categories}}
        except (RoutingError, UnknownPlaceError):
            return known  # the requests are still listed, without their service names

    def require(self, given: str | None) -> None:
        """Open311Error unless `given` (a `jurisdiction_id`, if sent) is the district."""
        if given is not None and given != self.district:
            raise Open311Error(404, f"jurisdiction_id: {given[:40]} is not served here")

    async def answer(self, request: Request, format: str, work: Work) -> Response:
        fmt = format if format in FORMATS else "json"
        try:
            format_of(format)
            self.require(request.query_params.get("jurisdiction_id"))
            return await work(fmt)
        except REFUSED as e:
            return error(fmt, _refusal(e))

    async def service_rule(self, code: str, status: int) -> CategoryRule | None:
        """The rule of a service code; None for the untriaged service, which has none."""
        if code == UNTRIAGED:
            return None
        return _service_named(await run_in_threadpool(self.rules), code, status)

    async def one_ticket(self, service_request_id: str) -> TicketSnapshot:
        ticket = await run_in_threadpool(
            self.dispatcher.get_ticket, ticket_id_of(service_request_id)
        )
        if ticket.district != self.district:
            raise TicketNotFoundError(ticket.id)
        return ticket


def open311_router(
    dispatcher: Dispatcher,
    view: TicketDeskView,
    atlas: Atlas,
    jurisdiction: str,
    locate_radius_m: float = 100.0,
) -> APIRouter:
    """`locate_radius_m`: how far from a building a request by coordinates outside every
    grid's outline may be and still be placed at that building."""
    served = Jurisdiction(dispatcher, view, atlas, jurisdiction, locate_radius_m)
    router = APIRouter(prefix="/open311/v2", tags=["open311"])
    router.include_router(_services_router(served))
    router.include_router(_requests_router(served))
    return router


def _services_router(served: Jurisdiction) -> APIRouter:
    """The service types: the routing rules in effect, and the untriaged service."""
    router = APIRouter()

    @router.get("/services.{format}", response_class=Response)
    async def service_list(request: Request, format: str) -> Response:
        """The service types: the routing rules in effect for the district."""

        async def work(fmt: str) -> Response:
            found = await run_in_threadpool(served.rules)
            rows = [*(service(rule) for rule in found.categories), UNTRIAGED_SERVICE]
            return records(fmt, "services", "service", rows)

        return await served.answer(request, format, work)

    @router.get("/services/{service_code}.{format}", response_class=Response)
    async def service_definition(request: Request, service_code: str, format: str) -> Response:
        """No service has extra attributes (`metadata` is false), so the list is empty."""

        async def work(fmt: str) -> Response:
            await served.service_rule(service_code, 404)  # refuses an unknown code
            definition = {"service_code": service_code, "attributes": []}
            return record(fmt, "service_definition", definition)

        return await served.answer(request, format, work)

    return router


def _requests_router(served: Jurisdiction) -> APIRouter:
    """Service requests: posted, listed, read one by one, and found by token."""
    router = APIRouter()
    dispatcher = served.dispatcher

    @router.post("/requests.{format}", response_class=Response)
    async def create_request(request: Request, format: str) -> Response:
        """A service request, posted form-encoded with the client's `api_key`. Answered 200,
        as GeoReport clients expect (the specification names no other status)."""

        async def work(fmt: str) -> Response:
            form = await form_of(request)
            served.require(form.get("jurisdiction_id"))
            caller = _caller(request, form.get("api_key"))
            submission = Submission.of(form)
            rule = await served.service_rule(form["service_code"], 400)
            place, building = await run_in_threadpool(
                place_of, served.atlas, served.district, submission, served.locate_radius_m
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

        return await served.answer(request, format, work)

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
                search = filters(q.get, dispatcher.commands.clock())
            rows = await run_in_threadpool(
                lambda: served.view.tickets(district=served.district, limit=MAX_RESULTS, **search)
            )
            known = await run_in_threadpool(served.names)
            return records(
                fmt, "service_requests", "request", [service_request(r, known) for r in rows]
            )

        return await served.answer(request, format, work)

    @router.get("/requests/{service_request_id}.{format}", response_class=Response)
    async def one_request(request: Request, service_request_id: str, format: str) -> Response:
        async def work(fmt: str) -> Response:
            row = row_of(await served.one_ticket(service_request_id))
            known = await run_in_threadpool(served.names)
            return records(fmt, "service_requests", "request", [service_request(row, known)])

        return await served.answer(request, format, work)

    @router.get("/tokens/{token}.{format}", response_class=Response)
    async def token_lookup(request: Request, token: str, format: str) -> Response:
        """The token is the ticket id (requests are created synchronously)."""

        async def work(fmt: str) -> Response:
            ticket_id = str((await served.one_ticket(token)).id)
            found = {"service_request_id": ticket_id, "token": ticket_id}
            return records(fmt, "service_requests", "request", [found])

        return await served.answer(request, format, work)

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
