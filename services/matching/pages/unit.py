"""A member unit's own page: its registry entry, its listings (add, change, pause, resume,
withdraw), the proposals waiting for its answer (accept, decline), its matches under way
(schedule, deliver), its reciprocity balance and its latest evaluation. Unit staff see only
their own unit's page; the community's staff see every unit of their territory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from events.listings import CapacityUnit, Reach, Side
from events.matches import DeclineReason, Party
from events.taxonomy import ServiceCategory
from services.matching.lists.api import ChangeListing
from services.matching.lists.domain import ListingError, ListingState
from services.matching.matches.api import Declining, Scheduling
from services.matching.matches.domain import MatchError, MatchNotFoundError, MatchState
from services.matching.pages.common import (
    FormFieldError,
    PageNotFoundError,
    Pages,
    Parts,
    form_key,
    is_desk,
    may,
    parsed,
    with_lang,
)
from services.matching.pages.words import Words, words_for
from services.matching.registry.application import UnitSnapshot
from services.matching.registry.domain import UnitError
from services.matching.view import ListingQuery
from services.runtime.access import caller_of, within
from services.runtime.commands import Caller
from services.runtime.idempotency import IdempotencyKeyReusedError
from services.runtime.identity import Access
from services.runtime.pages import Form, FormTooLargeError, PageAccess, read_form, signed_in
from services.runtime.place import Place
from services.runtime.policy import ForbiddenError

REFUSED = (ForbiddenError, FormFieldError, FormTooLargeError, IdempotencyKeyReusedError,
           ListingError, MatchError, ValidationError)  # fmt: skip
_UNDER_WAY = (MatchState.AGREED, MatchState.SCHEDULED, MatchState.DELIVERED)
_LISTING_STEPS = {"pause": "pause", "resumption": "resume", "withdrawal": "withdraw"}
_MATCH_STEPS = ("acceptance", "decline", "schedule", "delivery")
CHINA_OFFSET = "+08:00"
"""A time picked on the page is the community's wall clock (China has one time zone)."""


def terms_of(form: Form, current: dict[str, Any] | None = None) -> ChangeListing:
    """A listing's terms from the form (what the form leaves out is kept from `current`)."""
    terms: dict[str, Any] = dict(current or {})
    for field in ("category", "title", "description", "capacity_unit", "reach", "conditions"):
        if field in form or field in ("description", "conditions"):
            terms[field] = form.get(field, "")
    terms["capacity"] = form.get("capacity") or None
    days = [day for day in range(1, 8) if form.get(f"day{day}")]
    if days and form.get("opens") and form.get("closes"):
        weekly = [{"weekday": d, "opens": form["opens"], "closes": form["closes"]} for d in days]
        terms["availability"] = {**terms.get("availability", {}), "weekly": weekly}
    return parsed(ChangeListing, {"terms": terms})


class UnitPage:
    def __init__(self, pages: Pages, parts: Parts) -> None:
        self.pages = pages
        self.parts = parts

    def url(self, request: Request, unit_id: str) -> str:
        return request.url_for("unit_page", unit_id=unit_id).path

    async def render(
        self, request: Request, unit: UnitSnapshot, words: Words, signed: PageAccess, *,
        status: int = 200, message: str | None = None, form: Form | None = None,
    ) -> HTMLResponse:  # fmt: skip
        parts, unit_id = self.parts, unit.unit_id

        def read() -> dict[str, Any]:
            listings = parts.view.listings(ListingQuery(
                district=unit.district, unit_id=unit_id, states=list(ListingState), limit=200,
            ))  # fmt: skip
            waiting = parts.matches_view.matches(unit_id=unit_id, states=[MatchState.PROPOSED])
            under_way = parts.matches_view.matches(unit_id=unit_id, states=_UNDER_WAY)
            needs = [(m.need_kind.value, m.need_id) for m in (*waiting, *under_way)]
            return {"listings": listings, "waiting": waiting, "under_way": under_way,
                    "titles": parts.coordinator.titles(needs),
                    "balance": parts.records.balance(unit_id)}  # fmt: skip

        found = await parts.view.workers.run(read)
        principal = signed.principal
        return self.pages.render(
            "unit.html", words, status=status, message=message, form=form or {},
            principal=principal, unit=unit, here=self.url(request, unit_id), **found,
            may_list=may(signed, "listing.publish"), may_respond=may(signed, "match.respond"),
            by=lambda m: _side(signed, m.community),
            board_url=parts.board_url, categories=list(ServiceCategory), sides=list(Side),
            capacity_units=list(CapacityUnit), reaches=list(Reach),
            decline_reasons=list(DeclineReason), key=str(uuid4()),
        )  # fmt: skip

    async def unit_for(self, access: Access | PageAccess, unit_id: str) -> UnitSnapshot:
        """The unit, once the visitor may see it: their own (unit staff) or in their territory."""
        checked = access if isinstance(access, Access) else access.access()
        checked.check_unit(unit_id)
        try:
            unit = await run_in_threadpool(self.parts.registry.get, unit_id)
        except UnitError:
            raise PageNotFoundError from None
        within(checked, Place(unit.district, unit.street, unit.community, unit.grid))
        return unit

    async def act(
        self, request: Request, unit_id: str, lang: str | None, signed: PageAccess | None,
        run: Callable[[Caller, Form], Any], anchor: str,
    ) -> Response:  # fmt: skip
        """Read the form, check the visitor may act for this unit, run the command, and come
        back to the page (or show it again with what went wrong)."""
        words, form = words_for(lang), {}
        if (answer := self.pages.admit(request, words, signed)) is not None:
            return answer
        assert signed is not None
        unit: UnitSnapshot | None = None
        try:
            form = await read_form(request)
            access = signed.access(form_key(form))
            unit = await self.unit_for(access, unit_id)
            outcome = await run_in_threadpool(run, caller_of(access), form)
        except (PageNotFoundError, MatchNotFoundError):
            return self.pages.notice(words, words.labels["not_found"], 404)
        except REFUSED as exc:
            status, message = self.pages.problem(exc, words, signed)
            if unit is None:
                return self.pages.notice(words, message, status)
            return await self.render(request, unit, words, signed, status=status,
                                     message=message, form=form)  # fmt: skip
        url = with_lang(self.url(request, unit_id), words, anchor)
        return await self.pages.done(int(getattr(outcome, "position", 0)), url)


def unit_router(pages: Pages, parts: Parts) -> APIRouter:
    router = APIRouter(prefix="/unit/{unit_id}", include_in_schema=False)
    page = UnitPage(pages, parts)

    @router.get("", name="unit_page", response_class=HTMLResponse)
    async def show_unit(
        request: Request, unit_id: str,
        signed: Annotated[PageAccess | None, signed_in("match.read")], lang: str | None = None,
    ) -> Response:  # fmt: skip
        words = words_for(lang)

        async def build(signed: PageAccess) -> Response:
            unit = await page.unit_for(signed, unit_id)
            return await page.render(request, unit, words, signed)

        return await pages.show(request, words, signed, build)

    @router.post("/listings", response_class=HTMLResponse)
    async def add_listing(
        request: Request, unit_id: str,
        signed: Annotated[PageAccess | None, signed_in("listing.publish")], lang: str | None = None,
    ) -> Response:  # fmt: skip
        def run(caller: Caller, form: Form) -> Any:
            side = Side(form["side"]) if form.get("side") in set(Side) else None
            if side is None:
                raise FormFieldError("side")
            terms = terms_of(form).terms
            return parts.lists.publish(caller, side=side, unit_id=unit_id, place=None, terms=terms)

        return await page.act(request, unit_id, lang, signed, run, "listings")

    @router.post("/listings/{listing_id}/{step}", response_class=HTMLResponse)
    async def change_listing(
        request: Request, unit_id: str, listing_id: str, step: str,
        signed: Annotated[PageAccess | None, signed_in("listing.change")], lang: str | None = None,
    ) -> Response:  # fmt: skip
        def run(caller: Caller, form: Form) -> Any:
            listing = parts.lists.get(_uuid(listing_id))
            if listing.unit_id != unit_id or step not in {"changes", *_LISTING_STEPS}:
                raise PageNotFoundError
            if step == "changes":
                current = listing.terms.model_dump(mode="json")
                return parts.lists.change(caller, listing.listing_id, terms_of(form, current).terms)
            return getattr(parts.lists, _LISTING_STEPS[step])(caller, listing.listing_id)

        return await page.act(request, unit_id, lang, signed, run, f"listing-{listing_id}")

    @router.post("/matches/{match_id}/{step}", response_class=HTMLResponse)
    async def answer_match(
        request: Request, unit_id: str, match_id: str, step: str,
        signed: Annotated[PageAccess | None, signed_in("match.respond")], lang: str | None = None,
    ) -> Response:  # fmt: skip
        def run(caller: Caller, form: Form) -> Any:
            match = parts.desk.get(_uuid(match_id))
            if match.unit_id != unit_id or step not in _MATCH_STEPS:
                raise PageNotFoundError
            if form.get("by", Party.UNIT.value) not in set(Party):
                raise FormFieldError("by")
            by = Party(form.get("by", Party.UNIT.value))
            if by is Party.COMMUNITY and signed is not None and not is_desk(signed):
                raise ForbiddenError("policy.role_not_allowed", "only the community's staff")
            if step == "acceptance":
                return parts.desk.accept(caller, match.match_id, by)
            if step == "decline":
                body = parsed(Declining, {"by": by, "reason": form.get("reason")})
                return parts.desk.decline(caller, match.match_id, by, body.reason)
            if step == "schedule":
                when = form.get("scheduled_for", "")
                instant = parsed(Scheduling, {"scheduled_for": f"{when}:00{CHINA_OFFSET}"})
                return parts.desk.schedule(caller, match.match_id, instant.scheduled_for)
            return parts.desk.deliver(caller, match.match_id)

        return await page.act(request, unit_id, lang, signed, run, "matches")

    return router


def _side(signed: PageAccess, need_community: str) -> Party:
    """The side a visitor answers for on a unit's page: the community's staff for a need of
    their community, everyone else (the unit's staff, the offer's community) for the unit."""
    here = signed.principal.scope.community == need_community
    return Party.COMMUNITY if is_desk(signed) and here else Party.UNIT


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise PageNotFoundError from None
