"""The tickets' HTTP commands and queries: validate, call one dispatcher method, respond."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from events.envelope import CODE_PATTERN, Code, Role
from events.tickets import Channel, HandlerKind, HoldReason, ReturnReason
from services.runtime.access import PERSON_ID, PersonId, caller_of
from services.runtime.http import CodeInQuery, Details, field_details, no_details
from services.runtime.identity import Access, authorize
from services.runtime.place import Place
from services.runtime.policy import ForbiddenError
from services.runtime.routes import Step, add_steps
from services.runtime.text import Body, Title
from services.tickets.access import Contact
from services.tickets.routing import NoRulesError, RoutingError, UnknownCategoryError
from services.tickets.territory import UnknownPlaceError
from services.tickets.ticketing.application import (
    Dispatcher,
    TicketOutcome,
    TicketSnapshot,
)
from services.tickets.ticketing.domain import (
    InvalidTicketError,
    NotTheHandlerError,
    TicketNotFoundError,
    TicketTransitionError,
)
from services.tickets.ticketing.view import TicketDeskView, TicketRow
from services.tickets.ticketing.visits import InvalidVisitError, VisitNotFoundError

Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), max_digits=15, decimal_places=2)]


class ReceiveTicket(Body):
    prose = frozenset({"description"})

    district: Code
    street: Code
    community: Code
    grid: Code | None = None
    building: Code | None = None
    channel: Channel = Channel.WEB
    proactive: bool = False
    """未诉先办: found by staff before anyone complained; then `requester_id` may be empty."""
    requester_id: PersonId | None = None
    title: Title
    category: Code | None = None
    description: Annotated[str | None, Field(max_length=2000)] = None
    contact: Contact | None = None


class Triage(Body):
    category: Code
    grid: Code | None = None


class Merge(Body):
    into_ticket_id: UUID


class Dispatch(Body):
    handler_id: PersonId
    handler_kind: HandlerKind | None = None


class Handler(Body):
    handler_id: PersonId


class Return(Handler):
    reason: ReturnReason


class Hold(Handler):
    reason: HoldReason


class Resolution(Handler):
    prose = frozenset({"note"})

    amount: Money | None = None
    note: Annotated[str | None, Field(max_length=2000)] = None


class Verification(Body):
    passed: bool


class Rating(Body):
    rating: Annotated[int, Field(ge=1, le=5)]


class Closure(Body):
    fixed: bool = True
    """False closes the ticket as "closed, not fixed" (its own outcome)."""


class TicketList(BaseModel):
    items: list[TicketRow]
    limit: int
    offset: int


def _state_details(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, TicketTransitionError)
    return {"state": exc.state.value}


ERRORS: dict[type[Exception], tuple[int, Details]] = {
    TicketNotFoundError: (404, no_details),
    TicketTransitionError: (409, _state_details),
    NotTheHandlerError: (409, no_details),
    InvalidTicketError: (422, field_details),
    InvalidVisitError: (422, field_details),
    VisitNotFoundError: (404, no_details),
    UnknownPlaceError: (422, field_details),
    UnknownCategoryError: (422, field_details),
    NoRulesError: (409, no_details),
    RoutingError: (409, no_details),
}


def _own_unit(access: Access, body: Handler) -> None:
    """Unit staff and volunteers act only for their own unit or team."""
    if access.principal.role in (Role.UNIT_STAFF, Role.VOLUNTEER) and (
        access.principal.unit != body.handler_id
    ):
        raise ForbiddenError("policy.not_your_unit", f"{access.action} only for your own unit")


def ticket_router(dispatcher: Dispatcher, view: TicketDeskView) -> APIRouter:
    router = APIRouter(prefix="/tickets", tags=["tickets"])
    d = dispatcher

    async def guarded_read(ticket_id: UUID, access: Access) -> TicketSnapshot:
        ticket = await run_in_threadpool(d.get_ticket, ticket_id)
        access.check_person(ticket.requester_id or "")
        access.check_place(
            district=ticket.district,
            street=ticket.street,
            community=ticket.community,
            grid=ticket.grid,
        )
        return ticket

    @router.post("", status_code=201, response_model=TicketOutcome)
    async def receive_ticket(
        body: ReceiveTicket, access: Annotated[Access, authorize("ticket.receive")]
    ) -> TicketOutcome:
        personal = None
        if body.description or body.contact:
            personal = {
                "description": body.description,
                "contact": body.contact.model_dump() if body.contact else None,
            }
        return await run_in_threadpool(
            lambda: d.receive(
                caller_of(access),
                place=Place(body.district, body.street, body.community, body.grid),
                channel=body.channel,
                proactive=body.proactive,
                requester_id=body.requester_id,
                title=body.title,
                category=body.category,
                building=body.building,
                personal=personal,
            )
        )

    @router.get("", response_model=TicketList)
    async def list_tickets(
        district: CodeInQuery,
        access: Annotated[Access, authorize("ticket.read")],
        community: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
        state: Annotated[list[str] | None, Query(max_length=20)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> TicketList:
        """Tickets of a district (or one community) inside the caller's territory; a
        resident sees their own."""
        scope = access.principal.scope.model_dump(exclude_none=True)
        if scope.get("district", district) != district:
            return TicketList(items=[], limit=limit, offset=offset)
        mine = access.principal.person or "" if access.principal.role is Role.RESIDENT else None
        items = await run_in_threadpool(
            lambda: view.tickets(
                district=district,
                community=community,
                within=scope,
                requester_id=mine,
                states=state or (),
                limit=limit,
                offset=offset,
            )
        )
        return TicketList(items=items, limit=limit, offset=offset)

    @router.get("/{ticket_id}", response_model=TicketSnapshot)
    async def get_ticket(
        ticket_id: UUID, access: Annotated[Access, authorize("ticket.read")]
    ) -> TicketSnapshot:
        return await guarded_read(ticket_id, access)

    add_steps(router, "ticket_id", [
        Step("triage", "/{ticket_id}/triage", "ticket.triage", TicketOutcome,
             lambda c, t, b: d.triage(c, t, category=b.category, grid=b.grid), Triage),
        Step("merge", "/{ticket_id}/merge", "ticket.triage", TicketOutcome,
             lambda c, t, b: d.merge(c, t, b.into_ticket_id), Merge),
        Step("dispatch", "/{ticket_id}/dispatch", "ticket.dispatch", TicketOutcome,
             lambda c, t, b: d.dispatch(c, t, handler_id=b.handler_id,
                                        handler_kind=b.handler_kind), Dispatch),
        Step("accept", "/{ticket_id}/acceptance", "ticket.handle", TicketOutcome,
             lambda c, t, b: d.accept(c, t, b.handler_id), Handler, _own_unit),
        Step("return_ticket", "/{ticket_id}/return", "ticket.handle", TicketOutcome,
             lambda c, t, b: d.return_ticket(c, t, b.handler_id, b.reason), Return, _own_unit),
        Step("start_work", "/{ticket_id}/work", "ticket.handle", TicketOutcome,
             lambda c, t, b: d.start_work(c, t, b.handler_id), Handler, _own_unit),
        Step("put_on_hold", "/{ticket_id}/hold", "ticket.handle", TicketOutcome,
             lambda c, t, b: d.put_on_hold(c, t, b.handler_id, b.reason), Hold, _own_unit),
        Step("resume", "/{ticket_id}/resumption", "ticket.handle", TicketOutcome,
             lambda c, t, b: d.resume(c, t, b.handler_id), Handler, _own_unit),
        Step("report_resolution", "/{ticket_id}/resolution", "ticket.handle", TicketOutcome,
             lambda c, t, b: d.report_resolution(
                 c, t, b.handler_id, b.amount, {"note": b.note} if b.note else None),
             Resolution, _own_unit),
        Step("verify", "/{ticket_id}/verification", "ticket.verify", TicketOutcome,
             lambda c, t, b: d.verify_resolution(c, t, b.passed), Verification),
        Step("rate", "/{ticket_id}/rating", "ticket.rate", TicketOutcome,
             lambda c, t, b: d.rate(c, t, b.rating), Rating),
        Step("close", "/{ticket_id}/closure", "ticket.close", TicketOutcome,
             lambda c, t, b: d.close(c, t, fixed=b.fixed), Closure),
    ])  # fmt: skip
    return router


__all__ = ["ERRORS", "PERSON_ID", "ticket_router"]
