"""Matches over HTTP: a unit's proposals and matches, a need's proposals, the coordinator's
"find match" with the same reasons, and each step of a match's lifecycle."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from events.envelope import CODE_PATTERN, Role
from events.matches import DeclineReason, NeedKind, Party
from events.units import UNIT_ID_PATTERN
from services.matching.lists.domain import CapacityExhaustedError
from services.matching.matches.application import (
    FoundMatch,
    MatchDesk,
    MatchOutcome,
    MatchSnapshot,
    NeedNotFoundError,
    NeedNotOpenError,
    UnitNotMemberError,
    WishAcceptedInTicketsError,
)
from services.matching.matches.coordinating import (
    Coordinator,
    NeedEntry,
    OfferCannotServeError,
    ProposedBeforeError,
)
from services.matching.matches.domain import (
    MatchNotFoundError,
    MatchState,
    MatchTransitionError,
    NotYetExpiredError,
)
from services.matching.matches.view import MatchEntry, MatchesView
from services.matching.territory import Places
from services.runtime.access import caller_of, within
from services.runtime.http import Details, field_details, no_details
from services.runtime.identity import Access, authorize
from services.runtime.instants import Instant
from services.runtime.place import Place
from services.runtime.policy import COMMUNITY_DESK, ForbiddenError
from services.runtime.routes import Step, add_steps
from services.runtime.text import Body

ERRORS: dict[type[Exception], tuple[int, Details]] = {
    MatchNotFoundError: (404, no_details),
    NeedNotFoundError: (404, no_details),
    MatchTransitionError: (409, no_details),
    NotYetExpiredError: (409, no_details),
    CapacityExhaustedError: (409, no_details),
    WishAcceptedInTicketsError: (409, no_details),
    UnitNotMemberError: (409, no_details),
    NeedNotOpenError: (409, no_details),
    ProposedBeforeError: (409, no_details),
    OfferCannotServeError: (422, field_details),
}


class Side(Body):
    by: Party


class Declining(Body):
    by: Party
    reason: DeclineReason


class Scheduling(Body):
    scheduled_for: Instant


class ByHand(Body):
    listing_id: UUID
    """The offer chosen from "find match"."""


class Rating(Body):
    rating: Annotated[int, Field(ge=1, le=5)]


def _party(access: Access, body: Side | Declining) -> None:
    """Only the community's coordinators answer for the community."""
    if body.by is Party.COMMUNITY and access.principal.role not in COMMUNITY_DESK:
        message = f"a {access.principal.role.value} may not answer for the community"
        raise ForbiddenError("policy.role_not_allowed", message)


def match_router(
    desk: MatchDesk, coordinator: Coordinator, view: MatchesView, places: Places
) -> APIRouter:
    router = APIRouter(tags=["matches"])

    @router.get("/matches", response_model=list[MatchEntry])
    async def list_matches(
        district: Annotated[str, Query(pattern=CODE_PATTERN)],
        access: Annotated[Access, authorize("match.read")],
        community: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
        unit_id: Annotated[str | None, Query(pattern=UNIT_ID_PATTERN)] = None,
        state: Annotated[list[MatchState] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> list[MatchEntry]:
        """A unit's proposals and matches (unit staff see only their own unit's), or a
        community's."""
        if access.principal.role is Role.UNIT_STAFF:
            access.check_unit(unit_id)
        elif community is None:
            raise ForbiddenError("policy.outside_territory", "name the community to list")
        if community is not None:
            within(access, places.locate(district, community))
        return await view.workers.run(lambda: view.matches(
            district=district, community=community, unit_id=unit_id, states=state or (),
            limit=limit, offset=offset,
        ))  # fmt: skip

    @router.get("/matches/{match_id}", response_model=MatchSnapshot)
    async def get_match(
        match_id: UUID, access: Annotated[Access, authorize("match.read")]
    ) -> MatchSnapshot:
        match = await run_in_threadpool(desk.get, match_id)
        access.check_unit(match.unit_id)
        need = Place(match.district, match.street, match.community, None)
        if access.principal.role is not Role.UNIT_STAFF:
            with contextlib.suppress(ForbiddenError):
                within(access, need)
                return match  # the need's community
        # the offer's unit or community: its offer may reach beyond its own community
        within(access, await run_in_threadpool(desk.offer_place, match.listing_id))
        return match

    @router.get("/needs", response_model=list[NeedEntry])
    async def list_needs(
        district: Annotated[str, Query(pattern=CODE_PATTERN)],
        community: Annotated[str, Query(pattern=CODE_PATTERN)],
        access: Annotated[Access, authorize("match.find")],
        need_kind: Annotated[NeedKind | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> list[NeedEntry]:
        """The community's open needs (wishes, tickets, demands), fewest live proposals first."""
        within(access, places.locate(district, community))
        return await view.workers.run(lambda: coordinator.needs(
            district=district, community=community, kind=need_kind, limit=limit, offset=offset,
        ))  # fmt: skip

    @router.get("/needs/{need_kind}/{need_id}", response_model=NeedEntry)
    async def get_need(
        need_kind: NeedKind, need_id: UUID, access: Annotated[Access, authorize("match.find")]
    ) -> NeedEntry:
        need = await run_in_threadpool(coordinator.need, need_kind, need_id)
        within(access, Place(need.district, need.street, need.community, need.grid))
        return need

    @router.get("/needs/{need_kind}/{need_id}/matches", response_model=list[FoundMatch])
    async def find_match(
        need_kind: NeedKind, need_id: UUID, access: Annotated[Access, authorize("match.find")]
    ) -> list[FoundMatch]:
        """The coordinator's "find match": the offers matching would propose now, with the
        reasons it would give (nothing is proposed or saved)."""
        place = await run_in_threadpool(coordinator.need_place, need_kind, need_id)
        within(access, place)
        return await run_in_threadpool(coordinator.find, need_kind, need_id)

    @router.post("/needs/{need_kind}/{need_id}/matches", response_model=MatchOutcome,
                 status_code=201)  # fmt: skip
    async def match_by_hand(
        need_kind: NeedKind, need_id: UUID, body: ByHand,
        access: Annotated[Access, authorize("match.propose")],
    ) -> MatchOutcome:  # fmt: skip
        """Match by hand: propose the chosen offer for the need, accepted for the community,
        with the reasons "find match" shows; the unit answers for itself."""
        place = await run_in_threadpool(coordinator.need_place, need_kind, need_id)
        within(access, place)
        return await run_in_threadpool(
            coordinator.match_by_hand, caller_of(access), need_kind, need_id, body.listing_id
        )

    add_steps(router, "match_id", _steps(desk))
    return router


def _steps(desk: MatchDesk) -> list[Step[Any, MatchOutcome, UUID]]:
    respond, confirm = "match.respond", "match.confirm"

    def schedule(caller: Any, match_id: UUID, body: Scheduling) -> MatchOutcome:
        when: datetime = body.scheduled_for
        return desk.schedule(caller, match_id, when)

    return [
        Step("accept_match", "/matches/{match_id}/acceptance", respond, MatchOutcome,
             lambda c, i, b: desk.accept(c, i, b.by), Side, _party,
             doc="Accept for one side; once both have, the offer's capacity is reserved."),
        Step("decline_match", "/matches/{match_id}/decline", respond, MatchOutcome,
             lambda c, i, b: desk.decline(c, i, b.by, b.reason), Declining, _party),
        Step("cancel_match", "/matches/{match_id}/cancellation", respond, MatchOutcome,
             lambda c, i, b: desk.cancel(c, i, b.by), Side, _party,
             doc="Call an agreed match off; its capacity is released."),
        Step("schedule_match", "/matches/{match_id}/schedule", respond, MatchOutcome,
             schedule, Scheduling),
        Step("deliver_match", "/matches/{match_id}/delivery", respond, MatchOutcome,
             lambda c, i, _: desk.deliver(c, i)),
        Step("confirm_match", "/matches/{match_id}/confirmation", confirm, MatchOutcome,
             lambda c, i, _: desk.confirm(c, i)),
        Step("rate_match", "/matches/{match_id}/rating", confirm, MatchOutcome,
             lambda c, i, b: desk.rate(c, i, b.rating), Rating),
    ]  # fmt: skip
