"""The two-lists wall of a community (资源清单与需求清单上墙): what units and the community
offer and what they need, as a resident or a unit reads it on the service station's screen or
on a phone; filtered by category, keywords and "available now"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from events.listings import Side
from events.taxonomy import ServiceCategory
from services.matching.pages.common import PageNotFoundError, Pages
from services.matching.pages.words import words_for
from services.matching.territory import Places, UnknownPlaceError
from services.matching.view import ListingEntry, ListingQuery, ListsView
from services.runtime.pages import PageAccess, signed_in
from services.runtime.place import Clock

WALL_LIMIT = 200
"""Listings shown per list; more are found by filtering."""


def wall_router(pages: Pages, view: ListsView, places: Places, clock: Clock) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/wall/{district}/{community}", name="wall", response_class=HTMLResponse)
    async def show_wall(
        request: Request,
        district: str,
        community: str,
        signed: Annotated[PageAccess | None, signed_in("listing.read")],
        lang: str | None = None,
        category: Annotated[str | None, Query(max_length=40)] = None,
        q: Annotated[str | None, Query(max_length=100)] = None,
        now: Annotated[str | None, Query(max_length=8)] = None,
    ) -> Response:
        async def build(signed: PageAccess) -> Response:
            signed.access()
            try:
                places.locate(district, community)
            except UnknownPlaceError:
                raise PageNotFoundError from None
            chosen = category if category in set(ServiceCategory) else None
            text = (q or "").strip() or None
            at: datetime | None = clock() if now else None

            def lists() -> dict[Side, list[ListingEntry]]:
                return {side: view.listings(ListingQuery(
                    district=district, community=community, side=side,
                    categories=[ServiceCategory(chosen)] if chosen else (), text=text,
                    available_at=at, limit=WALL_LIMIT,
                )) for side in Side}  # fmt: skip

            found = await view.workers.run(lists)
            return pages.render(
                "wall.html", words, principal=signed.principal, district=district,
                community=community, community_name=places.name_of(district, community),
                offers=found[Side.OFFER], demands=found[Side.DEMAND],
                categories=list(ServiceCategory), chosen=chosen or "", text=text or "",
                now=bool(now),
                here=request.url_for("wall", district=district, community=community).path,
            )  # fmt: skip

        words = words_for(lang)
        return await pages.show(request, words, signed, build)

    return router
