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
from services.runtime.access import PERSON_ID, REASON, PersonId, caller_of
from services.runtime.http import CodeInQuery, Details, field_details, no_details
from services.runtime.identity import Access, authorize
from services.runtime.policy import ForbiddenError
from services.runtime.text import Body, Title
from services.tickets.access import Contact
from services.tickets.place import Place
from services.tickets.routing import NoRulesError, RoutingError, UnknownCategoryError
from services.tickets.territory import UnknownPlaceError
from services.tickets.ticketing.application import (
    Dispatcher,
    TicketOutcome,
    TicketSnapshot,
    VisitNotes,
    VisitOutcome,
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


class Finding(Body):
    title: Title
    category: Code


class RecordVisit(Body):
    prose = frozenset({"notes"})

    district: Code
    street: Code
    community: Code
    grid: Code
    building: Code | None = None
    households: Annotated[int, Field(ge=0, le=500)]
    household_ids: Annotated[list[PersonId], Field(max_length=500, default_factory=list)]
    notes: Annotated[str | None, Field(max_length=4000)] = None
    """The visit diary (民情日记): restricted, sealed like other personal data."""
    findings: Annotated[list[Finding], Field(max_length=20, default_factory=list)]


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


def _handler_check(access: Access, handler_id: str) -> None:
    """Unit staff and volunteers act only for their own unit or team."""
    if access.principal.role in (Role.UNIT_STAFF, Role.VOLUNTEER) and (
        access.principal.unit != handler_id
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

    @router.post("/{ticket_id}/triage", response_model=TicketOutcome)
    async def triage(
        ticket_id: UUID, body: Triage, access: Annotated[Access, authorize("ticket.triage")]
    ) -> TicketOutcome:
        return await run_in_threadpool(
            lambda: d.triage(caller_of(access), ticket_id, category=body.category, grid=body.grid)
        )

    @router.post("/{ticket_id}/merge", response_model=TicketOutcome)
    async def merge(
        ticket_id: UUID, body: Merge, access: Annotated[Access, authorize("ticket.triage")]
    ) -> TicketOutcome:
        return await run_in_threadpool(d.merge, caller_of(access), ticket_id, body.into_ticket_id)

    @router.post("/{ticket_id}/dispatch", response_model=TicketOutcome)
    async def dispatch(
        ticket_id: UUID, body: Dispatch, access: Annotated[Access, authorize("ticket.dispatch")]
    ) -> TicketOutcome:
        return await run_in_threadpool(
            lambda: d.dispatch(
                caller_of(access),
                ticket_id,
                handler_id=body.handler_id,
                handler_kind=body.handler_kind,
            )
        )

    @router.post("/{ticket_id}/acceptance", response_model=TicketOutcome)
    async def accept(
        ticket_id: UUID, body: Handler, access: Annotated[Access, authorize("ticket.handle")]
    ) -> TicketOutcome:
        _handler_check(access, body.handler_id)
        return await run_in_threadpool(d.accept, caller_of(access), ticket_id, body.handler_id)

    @router.post("/{ticket_id}/return", response_model=TicketOutcome)
    async def return_ticket(
        ticket_id: UUID, body: Return, access: Annotated[Access, authorize("ticket.handle")]
    ) -> TicketOutcome:
        _handler_check(access, body.handler_id)
        return await run_in_threadpool(
            d.return_ticket, caller_of(access), ticket_id, body.handler_id, body.reason
        )

    @router.post("/{ticket_id}/work", response_model=TicketOutcome)
    async def start_work(
        ticket_id: UUID, body: Handler, access: Annotated[Access, authorize("ticket.handle")]
    ) -> TicketOutcome:
        _handler_check(access, body.handler_id)
        return await run_in_threadpool(d.start_work, caller_of(access), ticket_id, body.handler_id)

    @router.post("/{ticket_id}/hold", response_model=TicketOutcome)
    async def put_on_hold(
        ticket_id: UUID, body: Hold, access: Annotated[Access, authorize("ticket.handle")]
    ) -> TicketOutcome:
        _handler_check(access, body.handler_id)
        return await run_in_threadpool(
            d.put_on_hold, caller_of(access), ticket_id, body.handler_id, body.reason
        )

    @router.post("/{ticket_id}/resumption", response_model=TicketOutcome)
    async def resume(
        ticket_id: UUID, body: Handler, access: Annotated[Access, authorize("ticket.handle")]
    ) -> TicketOutcome:
        _handler_check(access, body.handler_id)
        return await run_in_threadpool(d.resume, caller_of(access), ticket_id, body.handler_id)

    @router.post("/{ticket_id}/resolution", response_model=TicketOutcome)
    async def report_resolution(
        ticket_id: UUID, body: Resolution, access: Annotated[Access, authorize("ticket.handle")]
    ) -> TicketOutcome:
        _handler_check(access, body.handler_id)
        personal = {"note": body.note} if body.note else None
        return await run_in_threadpool(
            lambda: d.report_resolution(
                caller_of(access), ticket_id, body.handler_id, body.amount, personal
            )
        )

    @router.post("/{ticket_id}/verification", response_model=TicketOutcome)
    async def verify(
        ticket_id: UUID, body: Verification, access: Annotated[Access, authorize("ticket.verify")]
    ) -> TicketOutcome:
        return await run_in_threadpool(
            d.verify_resolution, caller_of(access), ticket_id, body.passed
        )

    @router.post("/{ticket_id}/rating", response_model=TicketOutcome)
    async def rate(
        ticket_id: UUID, body: Rating, access: Annotated[Access, authorize("ticket.rate")]
    ) -> TicketOutcome:
        return await run_in_threadpool(d.rate, caller_of(access), ticket_id, body.rating)

    @router.post("/{ticket_id}/closure", response_model=TicketOutcome)
    async def close(
        ticket_id: UUID, body: Closure, access: Annotated[Access, authorize("ticket.close")]
    ) -> TicketOutcome:
        return await run_in_threadpool(
            lambda: d.close(caller_of(access), ticket_id, fixed=body.fixed)
        )

    return router


def visit_router(dispatcher: Dispatcher) -> APIRouter:
    router = APIRouter(prefix="/visits", tags=["visits"])

    @router.post("", status_code=201, response_model=VisitOutcome)
    async def record_visit(
        body: RecordVisit, access: Annotated[Access, authorize("visit.record")]
    ) -> VisitOutcome:
        """A door-knocking visit (敲门行动); each finding opens a proactive ticket."""
        notes = {"notes": body.notes} if body.notes else None
        return await run_in_threadpool(
            lambda: dispatcher.record_visit(
                caller_of(access),
                place=Place(body.district, body.street, body.community, body.grid),
                building=body.building,
                households=body.households,
                household_ids=list(body.household_ids),
                findings=[(f.title, f.category) for f in body.findings],
                notes=notes,
            )
        )

    @router.get("/{visit_id}", response_model=VisitNotes)
    async def visit_notes(
        visit_id: UUID,
        access: Annotated[Access, authorize("visit.read")],
        reason: Annotated[str, Query(min_length=4, max_length=200, pattern=REASON)],
    ) -> VisitNotes:
        """Restricted: the notes are shown for a stated reason, and the read is logged."""
        return await run_in_threadpool(dispatcher.visit_notes, caller_of(access), visit_id, reason)

    return router


__all__ = ["ERRORS", "PERSON_ID", "ticket_router", "visit_router"]
