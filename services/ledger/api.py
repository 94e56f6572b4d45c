"""The ledger's HTTP queries and operator views."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from services.ledger.projection import CommunitySummary, CommunityWishLedger, WishLedger
from services.runtime.parking import ParkedMessage, ParkingLot

Slug = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


def ledger_router(ledger: WishLedger) -> APIRouter:
    router = APIRouter(prefix="/ledger", tags=["ledger"])

    @router.get("/{district}/wishes", response_model=list[CommunitySummary])
    async def district_wishes(district: Slug) -> list[CommunitySummary]:
        return await run_in_threadpool(ledger.district, district)

    @router.get("/{district}/{community}/wishes", response_model=CommunityWishLedger)
    async def community_wishes(district: Slug, community: Slug) -> CommunityWishLedger:
        return await run_in_threadpool(ledger.community, district, community)

    return router


def parking_router(parking: ParkingLot) -> APIRouter:
    router = APIRouter(prefix="/ops", tags=["ops"])

    @router.get("/parked", response_model=list[ParkedMessage])
    async def parked(
        consumer: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[ParkedMessage]:
        return await run_in_threadpool(lambda: parking.list(consumer=consumer, limit=limit))

    return router
