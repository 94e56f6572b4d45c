"""The wish routes: validate, call one method of the wish desk, respond."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from events.envelope import CODE_PATTERN, Code
from events.wishes import (
    ClaimMode,
    RejectionReason,
    ReleaseReason,
    WishCategory,
    WithdrawalReason,
)
from services.runtime.access import REASON, PersonId, caller_of, escalated
from services.runtime.http import Details, field_details, no_details
from services.runtime.idempotency import IdempotencyKeyReusedError
from services.runtime.identity import Access, authorize
from services.runtime.instants import Instant
from services.runtime.personal import (
    PersonErasedError,
    PersonNotFoundError,
    PersonRecordsChangedError,
)
from services.runtime.place import Place
from services.runtime.routes import Step, add_steps
from services.runtime.text import Body, Title
from services.tickets.access import Contact
from services.tickets.units import UnitNotAllowedError
from services.tickets.wishes.application import (
    ClaimRefusedError,
    ContactCard,
    WishDesk,
    WishOutcome,
    WishSnapshot,
)
from services.tickets.wishes.board import BoardEntry, WishBoardView
from services.tickets.wishes.domain import (
    IllegalTransitionError,
    InvalidWishError,
    NotAClaimantError,
    NotYetDueError,
    WishNotFoundError,
    WishState,
)


class PostWish(Body):
    prose = frozenset({"details"})

    district: Code
    street: Code
    community: Code
    grid: Code | None = None
    resident_id: PersonId
    title: Title
    category: WishCategory
    claim_mode: ClaimMode = ClaimMode.EXCLUSIVE
    quota: Annotated[int, Field(ge=1, le=100)] = 1
    expires_at: Instant | None = None
    contact: Contact | None = None
    details: Annotated[str | None, Field(max_length=2000)] = None


class Claim(Body):
    unit_id: PersonId


class Rejection(Body):
    reason: RejectionReason


class Release(Body):
    reason: ReleaseReason


class Acknowledgement(Body):
    rating: Annotated[int | None, Field(ge=1, le=5)] = None


class Withdrawal(Body):
    reason: WithdrawalReason


class WishList(BaseModel):
    items: list[BoardEntry]
    limit: int
    offset: int


def _erased_details(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, PersonErasedError)
    return {"erased_at": exc.erased_at.isoformat()}


def _transition_details(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, IllegalTransitionError)
    return {"state": exc.state.value, "claimants": list(exc.claimants)}


def _refusal_details(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, ClaimRefusedError)
    return {
        "reason": exc.reason.value,
        "claimants": list(exc.claimants),
        "state": exc.outcome.wish.state.value,
    }


def _claimant_details(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, NotAClaimantError)
    return {"claimants": list(exc.claimants)}


ERRORS: dict[type[Exception], tuple[int, Details]] = {
    WishNotFoundError: (404, no_details),
    IllegalTransitionError: (409, _transition_details),
    ClaimRefusedError: (409, _refusal_details),
    NotAClaimantError: (409, _claimant_details),
    NotYetDueError: (409, no_details),
    InvalidWishError: (422, field_details),
    IdempotencyKeyReusedError: (422, no_details),
    PersonNotFoundError: (404, no_details),
    PersonErasedError: (410, _erased_details),
    PersonRecordsChangedError: (409, no_details),
    UnitNotAllowedError: (422, field_details),
}


def _own_unit(access: Access, body: Claim) -> None:
    access.check_unit(body.unit_id)


def wish_router(board: WishDesk, view: WishBoardView) -> APIRouter:
    router = APIRouter(prefix="/wishes", tags=["wishes"])

    @router.post("", status_code=201, response_model=WishOutcome)
    async def post_wish(
        body: PostWish, access: Annotated[Access, authorize("wish.post")]
    ) -> WishOutcome:
        personal = _personal(body)
        return await run_in_threadpool(
            lambda: board.post_wish(
                caller_of(access),
                place=Place(body.district, body.street, body.community, body.grid),
                resident_id=body.resident_id,
                title=body.title,
                category=body.category,
                claim_mode=body.claim_mode,
                quota=body.quota,
                expires_at=body.expires_at,
                personal=personal,
            )
        )

    @router.get("", response_model=WishList, dependencies=[authorize("wish.read")])
    async def list_wishes(
        district: Annotated[str, Query(pattern=CODE_PATTERN)],
        community: Annotated[str, Query(pattern=CODE_PATTERN)],
        state: Annotated[list[WishState] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> WishList:
        items = await run_in_threadpool(
            lambda: view.entries(
                district=district, community=community, states=state or (), limit=limit,
                offset=offset,
            )
        )  # fmt: skip
        return WishList(items=items, limit=limit, offset=offset)

    @router.get("/{wish_id}", response_model=WishSnapshot, dependencies=[authorize("wish.read")])
    async def get_wish(wish_id: UUID) -> WishSnapshot:
        return await run_in_threadpool(board.get_wish, wish_id)

    add_steps(router, "wish_id", [
        Step("verify_wish", "/{wish_id}/verification", "wish.verify", WishOutcome,
             lambda c, w, _: board.verify_wish(c, w)),
        Step("reject_wish", "/{wish_id}/rejection", "wish.reject", WishOutcome,
             lambda c, w, b: board.reject_wish(c, w, b.reason), Rejection),
        Step("claim_wish", "/{wish_id}/claims", "wish.claim", WishOutcome,
             lambda c, w, b: board.claim_wish(c, w, b.unit_id), Claim, _own_unit,
             status_code=201),
        Step("report_fulfilment", "/{wish_id}/fulfilment", "wish.report_fulfilment",
             WishOutcome, lambda c, w, b: board.report_fulfilment(c, w, b.unit_id), Claim,
             _own_unit),
        Step("verify_fulfilment", "/{wish_id}/fulfilment/verification",
             "wish.verify_fulfilment", WishOutcome,
             lambda c, w, _: board.verify_fulfilment(c, w)),
        Step("acknowledge_wish", "/{wish_id}/acknowledgement", "wish.acknowledge", WishOutcome,
             lambda c, w, b: board.acknowledge_wish(c, w, b.rating), Acknowledgement),
        Step("withdraw_wish", "/{wish_id}/withdrawal", "wish.withdraw", WishOutcome,
             lambda c, w, b: board.withdraw_wish(c, w, b.reason), Withdrawal),
        Step("expire_wish", "/{wish_id}/expiry", "wish.expire", WishOutcome,
             lambda c, w, _: board.expire_wish(c, w)),
    ])  # fmt: skip

    @router.post("/{wish_id}/claims/{unit_id}/release", response_model=WishOutcome)
    async def release_claim(
        wish_id: UUID,
        unit_id: str,
        body: Release,
        access: Annotated[Access, authorize("wish.release")],
    ) -> WishOutcome:
        access.check_unit(unit_id)
        return await run_in_threadpool(
            board.release_claim, caller_of(access), wish_id, unit_id, body.reason
        )

    @router.get("/{wish_id}/contact", response_model=ContactCard)
    async def wish_contact(
        wish_id: UUID,
        access: Annotated[Access, authorize("wish.contact")],
        reason: Annotated[str | None, Query(min_length=4, max_length=200, pattern=REASON)] = None,
    ) -> ContactCard:
        """Masked; unmasked (and logged) only for `personal.read` roles giving a reason."""
        caller = caller_of(access if reason is None else escalated(access, "personal.read"))
        return await run_in_threadpool(lambda: board.contact_of(caller, wish_id, reason=reason))

    return router


def _personal(body: PostWish) -> dict[str, Any] | None:
    if body.contact is None and body.details is None:
        return None
    return {
        "contact": body.contact.model_dump() if body.contact else None,
        "details": body.details,
    }
