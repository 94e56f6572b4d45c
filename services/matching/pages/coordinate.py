"""The community coordinator's matching desk: the open needs (wishes, tickets, demands) with
their live proposals, and for one need the offers matching would propose with the reasons it
gives, each with a "match by hand" button, beside the proposals made so far."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from events.matches import NeedKind
from services.matching.matches.application import NeedNotFoundError
from services.matching.matches.coordinating import NeedEntry
from services.matching.matches.domain import MatchError
from services.matching.pages.common import (
    FormFieldError,
    PageNotFoundError,
    Pages,
    Parts,
    form_key,
    may,
    with_lang,
)
from services.matching.pages.words import Words, words_for
from services.matching.territory import UnknownPlaceError
from services.runtime.access import caller_of, within
from services.runtime.idempotency import IdempotencyKeyReusedError
from services.runtime.pages import FormTooLargeError, PageAccess, read_form, signed_in
from services.runtime.place import Place
from services.runtime.policy import ForbiddenError

REFUSED = (ForbiddenError, FormFieldError, FormTooLargeError, IdempotencyKeyReusedError,
           MatchError)  # fmt: skip
NEEDS_SHOWN = 200


class CoordinatorPages:
    def __init__(self, pages: Pages, parts: Parts) -> None:
        self.pages = pages
        self.parts = parts

    def place(self, access: PageAccess, district: str, community: str) -> Place:
        """The community, once the visitor's role and territory hold it."""
        checked = access.access()
        try:
            place = self.parts.places.locate(district, community)
        except UnknownPlaceError:
            raise PageNotFoundError from None
        within(checked, place)
        return place

    async def need(self, place: Place, kind: str, need_id: str) -> NeedEntry:
        """The need, when it lies in the community of the page."""
        try:
            need = await run_in_threadpool(self.parts.coordinator.need, NeedKind(kind),
                                           UUID(need_id))  # fmt: skip
        except (ValueError, NeedNotFoundError):
            raise PageNotFoundError from None
        if (need.district, need.community) != (place.district, place.community):
            raise PageNotFoundError
        return need

    async def render_need(
        self, request: Request, place: Place, need: NeedEntry, words: Words, signed: PageAccess,
        *, status: int = 200, message: str | None = None,
    ) -> HTMLResponse:  # fmt: skip
        parts, kind = self.parts, need.need_kind

        def read() -> dict[str, Any]:
            found = parts.coordinator.find(kind, need.need_id)
            current = parts.matches_view.matches(need=(kind, need.need_id))
            listings = parts.view.by_id([str(f.listing_id) for f in found] +
                                        [m.listing_id for m in current])  # fmt: skip
            return {"found": found, "current": current, "listings": listings}

        read_out = await parts.view.workers.run(read)
        proposed = {m.listing_id: m for m in read_out["current"]}
        desk = request.url_for("coordinate", district=place.district, community=place.community)
        return self.pages.render(
            "need.html", words, status=status, message=message, principal=signed.principal,
            need=need, community_name=parts.places.name_of(place.district, place.community),
            here=request.url.path, desk_url=desk.path, proposed=proposed, key=str(uuid4()),
            may_propose=may(signed, "match.propose"), **read_out,
        )  # fmt: skip


def coordinate_router(pages: Pages, parts: Parts) -> APIRouter:
    router = APIRouter(prefix="/coordinate/{district}/{community}", include_in_schema=False)
    desk = CoordinatorPages(pages, parts)

    @router.get("", name="coordinate", response_class=HTMLResponse)
    async def show_needs(
        request: Request, district: str, community: str,
        signed: Annotated[PageAccess | None, signed_in("match.find")],
        lang: str | None = None, kind: str | None = None,
    ) -> Response:  # fmt: skip
        words = words_for(lang)

        async def build(signed: PageAccess) -> Response:
            place = desk.place(signed, district, community)
            chosen = NeedKind(kind) if kind in set(NeedKind) else None
            needs = await parts.view.workers.run(lambda: parts.coordinator.needs(
                district=place.district, community=place.community, kind=chosen,
                limit=NEEDS_SHOWN,
            ))  # fmt: skip
            return pages.render(
                "coordinate.html", words, principal=signed.principal, needs=needs,
                community_name=parts.places.name_of(district, community), kinds=list(NeedKind),
                chosen=chosen.value if chosen else "", here=request.url.path,
            )  # fmt: skip

        return await pages.show(request, words, signed, build)

    @router.get("/{kind}/{need_id}", name="coordinate_need", response_class=HTMLResponse)
    async def show_need(
        request: Request, district: str, community: str, kind: str, need_id: str,
        signed: Annotated[PageAccess | None, signed_in("match.find")], lang: str | None = None,
    ) -> Response:  # fmt: skip
        words = words_for(lang)

        async def build(signed: PageAccess) -> Response:
            place = desk.place(signed, district, community)
            need = await desk.need(place, kind, need_id)
            return await desk.render_need(request, place, need, words, signed)

        return await pages.show(request, words, signed, build)

    @router.post("/{kind}/{need_id}/matches", response_class=HTMLResponse)
    async def match_by_hand(
        request: Request, district: str, community: str, kind: str, need_id: str,
        signed: Annotated[PageAccess | None, signed_in("match.propose")],
        lang: str | None = None,
    ) -> Response:  # fmt: skip
        words = words_for(lang)
        if (answer := pages.admit(request, words, signed)) is not None:
            return answer
        assert signed is not None
        need: NeedEntry | None = None
        try:
            form = await read_form(request)
            access = signed.access(form_key(form))
            place = desk.place(signed, district, community)
            need = await desk.need(place, kind, need_id)
            listing_id = _listing_id(form.get("listing_id", ""))
            outcome = await run_in_threadpool(
                parts.coordinator.match_by_hand, caller_of(access), need.need_kind,
                need.need_id, listing_id,
            )  # fmt: skip
        except PageNotFoundError:
            return pages.notice(words, words.labels["not_found"], 404)
        except REFUSED as exc:
            status, message = pages.problem(exc, words, signed)
            if need is None:
                return pages.notice(words, message, status)
            return await desk.render_need(request, place, need, words, signed, status=status,
                                          message=message)  # fmt: skip
        back = request.url_for("coordinate_need", district=district, community=community,
                               kind=kind, need_id=need_id).path  # fmt: skip
        anchor = f"match-{outcome.match.match_id}"
        return await pages.done(outcome.position, with_lang(back, words, anchor))

    return router


def _listing_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise FormFieldError("listing_id") from None
