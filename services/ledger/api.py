"""The ledger's HTTP queries and operator views, each behind the policy table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol, TypeVar

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool

from services.ledger.books import Books
from services.ledger.disputes import CommunityDisputeLedger, DisputeCommunitySummary
from services.ledger.projection import CommunitySummary, CommunityWishLedger
from services.ledger.tickets import CommunityTicketLedger, TicketCommunitySummary
from services.ledger.visits import CommunityVisitLedger
from services.runtime.http import CodeInPath
from services.runtime.identity import Access, authorize
from services.runtime.parked import parked_router
from services.runtime.policy import ForbiddenError

LedgerReader = Annotated[Access, authorize("ledger.read")]


class _Placed(Protocol):
    @property
    def street(self) -> str: ...
    @property
    def community(self) -> str: ...


S = TypeVar("S", bound=_Placed)


def inside(access: Access, district: str, summaries: Sequence[S]) -> list[S]:
    """The summaries inside the caller's territory; a district outside it is refused."""
    scope = access.principal.scope
    if scope.district not in (None, district):
        raise ForbiddenError("policy.outside_territory", f"{district} is outside your territory")
    return [
        s for s in summaries
        if scope.contains(district=district, street=s.street, community=s.community, grid=None)
    ]  # fmt: skip


async def check_community(access: Access, books: Books, district: str, community: str) -> None:
    """Refuse a community the ledger does not know (404), or one outside the caller's
    territory (403).

    The ledger knows a community once any of its books has a row for it, that is once it
    has applied an event placed there: the street on record is where that event placed it.
    """
    street = await run_in_threadpool(books.street_of, district, community)
    if street is None:
        message = f"{district}/{community} has no events in the ledger"
        raise HTTPException(404, {"code": "ledger.unknown_community", "message": message,
                                  "fields": [{"field": "path.community", "rule": "not_found",
                                              "message": message}]})  # fmt: skip
    access.check_place(district=district, street=street, community=community, grid=None)


def ledger_router(books: Books) -> APIRouter:
    router = APIRouter(prefix="/ledger", tags=["ledger"])

    @router.get("/{district}/wishes", response_model=list[CommunitySummary])
    async def district_wishes(district: CodeInPath, access: LedgerReader) -> list[CommunitySummary]:
        """The communities of a district, limited to those inside the caller's territory."""
        return inside(access, district, await run_in_threadpool(books.wishes.district, district))

    @router.get("/{district}/{community}/wishes", response_model=CommunityWishLedger)
    async def community_wishes(
        district: CodeInPath, community: CodeInPath, access: LedgerReader
    ) -> CommunityWishLedger:
        await check_community(access, books, district, community)
        return await run_in_threadpool(books.wishes.community, district, community)

    @router.get("/{district}/tickets", response_model=list[TicketCommunitySummary])
    async def district_tickets(
        district: CodeInPath, access: LedgerReader
    ) -> list[TicketCommunitySummary]:
        """The communities' ticket figures, limited to those inside the caller's territory."""
        return inside(access, district, await run_in_threadpool(books.tickets.district, district))

    @router.get("/{district}/{community}/tickets", response_model=CommunityTicketLedger)
    async def community_tickets(
        district: CodeInPath, community: CodeInPath, access: LedgerReader
    ) -> CommunityTicketLedger:
        await check_community(access, books, district, community)
        return await run_in_threadpool(books.tickets.community, district, community)

    @router.get("/{district}/disputes", response_model=list[DisputeCommunitySummary])
    async def district_disputes(
        district: CodeInPath, access: LedgerReader
    ) -> list[DisputeCommunitySummary]:
        """The communities' dispute figures, limited to those inside the caller's territory."""
        summaries = await run_in_threadpool(books.disputes.district, district)
        return inside(access, district, summaries)

    @router.get("/{district}/{community}/disputes", response_model=CommunityDisputeLedger)
    async def community_disputes(
        district: CodeInPath, community: CodeInPath, access: LedgerReader
    ) -> CommunityDisputeLedger:
        await check_community(access, books, district, community)
        return await run_in_threadpool(books.disputes.community, district, community)

    @router.get("/{district}/{community}/visits", response_model=CommunityVisitLedger)
    async def community_visits(
        district: CodeInPath, community: CodeInPath, access: LedgerReader
    ) -> CommunityVisitLedger:
        """Door-knocking visits (敲门行动), households reached and tickets they opened."""
        await check_community(access, books, district, community)
        return await run_in_threadpool(books.visits.community, district, community)

    return router


def parking_router(books: Books) -> APIRouter:
    return parked_router(books.parking, books.retry_parked, service="ledger")
