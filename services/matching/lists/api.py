"""The two lists over HTTP: publish, change, pause, resume and withdraw listings, and search
them by category, community, availability and free text."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import field_validator
from pydantic_core import PydanticCustomError

from events.envelope import CODE_PATTERN, Code
from events.listings import ListingTerms, Side
from events.taxonomy import ServiceCategory
from events.units import UNIT_ID_PATTERN, UnitId
from services.matching.lists.application import ListingOutcome, ListingSnapshot, Lists
from services.matching.lists.domain import (
    InvalidListingError,
    ListingNotFoundError,
    ListingState,
    ListingTransitionError,
)
from services.matching.territory import Places
from services.matching.view import ListingEntry, ListingQuery, ListsView
from services.runtime.access import caller_of
from services.runtime.http import Details, field_details, no_details
from services.runtime.identity import Access, authorize
from services.runtime.instants import Instant
from services.runtime.routes import Step, add_steps
from services.runtime.text import Body, refusal

PROSE_TERMS = frozenset({"description", "conditions"})

ERRORS: dict[type[Exception], tuple[int, Details]] = {
    ListingNotFoundError: (404, no_details),
    ListingTransitionError: (409, no_details),
    InvalidListingError: (422, field_details),
}


class TermsBody(Body):
    """A body carrying a listing's terms: their strings are checked like every body's."""

    terms: ListingTerms

    @field_validator("terms", mode="after")
    @classmethod
    def _terms_hold_no_control_characters(cls, terms: ListingTerms) -> ListingTerms:
        for name in ("title", "description", "conditions"):
            problem = refusal(getattr(terms, name), prose=name in PROSE_TERMS)
            if problem is not None:
                raise PydanticCustomError("control_character", f"terms.{name}: {problem}")
        return terms


class PublishListing(TermsBody):
    side: Side
    unit_id: UnitId | None = None
    """The unit listing it; none for the community's own listing."""
    district: Code
    community: Code
    grid: Code | None = None


class ChangeListing(TermsBody):
    pass


def listing_router(lists: Lists, view: ListsView, places: Places) -> APIRouter:
    router = APIRouter(prefix="/listings", tags=["listings"])

    @router.post("", status_code=201, response_model=ListingOutcome)
    async def publish_listing(
        body: PublishListing, access: Annotated[Access, authorize("listing.publish")]
    ) -> ListingOutcome:
        """A unit's listing (unit staff only for their own unit), or the community's own."""
        access.check_unit(body.unit_id)
        place = places.locate(body.district, body.community, body.grid)
        return await run_in_threadpool(
            lambda: lists.publish(
                caller_of(access), side=body.side, unit_id=body.unit_id, place=place,
                terms=body.terms,
            )
        )  # fmt: skip

    @router.get("", response_model=list[ListingEntry])
    async def search_listings(
        district: Annotated[str, Query(pattern=CODE_PATTERN)],
        _: Annotated[Access, authorize("listing.read")],
        community: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
        side: Side | None = None,
        category: Annotated[list[ServiceCategory] | None, Query()] = None,
        unit_id: Annotated[str | None, Query(pattern=UNIT_ID_PATTERN)] = None,
        q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
        available_at: Instant | None = None,
        state: Annotated[list[ListingState] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> list[ListingEntry]:
        """Listed entries by default; `state` may ask for paused or withdrawn ones too."""
        query = ListingQuery(
            district=district, community=community, side=side, categories=category or (),
            unit_id=unit_id, text=q, states=state or (ListingState.LISTED,),
            available_at=available_at, limit=limit, offset=offset,
        )  # fmt: skip
        return await view.workers.run(view.listings, query)

    @router.get("/{listing_id}", response_model=ListingSnapshot)
    async def get_listing(
        listing_id: UUID, _: Annotated[Access, authorize("listing.read")]
    ) -> ListingSnapshot:
        return await run_in_threadpool(lists.get, listing_id)

    add_steps(router, "listing_id", _steps(lists))
    return router


def _steps(lists: Lists) -> list[Step[Any, ListingOutcome, UUID]]:
    change = "listing.change"
    return [
        Step("change_listing", "/{listing_id}/changes", change, ListingOutcome,
             lambda c, i, b: lists.change(c, i, b.terms), ChangeListing),
        Step("pause_listing", "/{listing_id}/pause", change, ListingOutcome,
             lambda c, i, _: lists.pause(c, i)),
        Step("resume_listing", "/{listing_id}/resumption", change, ListingOutcome,
             lambda c, i, _: lists.resume(c, i)),
        Step("withdraw_listing", "/{listing_id}/withdrawal", change, ListingOutcome,
             lambda c, i, _: lists.withdraw(c, i)),
    ]  # fmt: skip
