"""The ledger's HTTP queries and operator views, each behind the policy table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from services.ledger.projection import CommunitySummary, CommunityWishLedger, WishLedger
from services.runtime.identity import Access, authorize
from services.runtime.parking import ParkedMessage, ParkingLot
from services.runtime.policy import ForbiddenError

Slug = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
LedgerReader = Annotated[Access, authorize("ledger.read")]


def ledger_router(ledger: WishLedger) -> APIRouter:
    router = APIRouter(prefix="/ledger", tags=["ledger"])

    @router.get("/{district}/wishes", response_model=list[CommunitySummary])
    async def district_wishes(district: Slug, access: LedgerReader) -> list[CommunitySummary]:
        """The communities of a district, limited to those inside the caller's territory."""
        scope = access.principal.scope
        if scope.district not in (None, district):
            raise ForbiddenError(
                "policy.outside_territory", f"{district} is outside your territory"
            )
        summaries = await run_in_threadpool(ledger.district, district)
        return [
            s for s in summaries
            if scope.contains(district=district, street=s.street, community=s.community, grid=None)
        ]  # fmt: skip

    @router.get("/{district}/{community}/wishes", response_model=CommunityWishLedger)
    async def community_wishes(
        district: Slug, community: Slug, access: LedgerReader
    ) -> CommunityWishLedger:
        street = await run_in_threadpool(ledger.street_of, district, community)
        access.check_place(district=district, street=street or "", community=community, grid=None)
        return await run_in_threadpool(ledger.community, district, community)

    return router


def parking_router(parking: ParkingLot) -> APIRouter:
    router = APIRouter(prefix="/ops", tags=["ops"])

    @router.get("/parked", response_model=list[ParkedMessage], dependencies=[authorize("ops.read")])
    async def parked(
        consumer: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[ParkedMessage]:
        return await run_in_threadpool(lambda: parking.list(consumer=consumer, limit=limit))

    return router
