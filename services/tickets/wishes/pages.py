"""The wish board (微心愿墙) as a server-rendered page: list, post and claim with plain forms.

No JavaScript and no external assets: every form is an HTML POST answered with a 303 back to
the board, or with the board re-rendered under the error's status code. Whoever is signed in
(the sign-in cookie) acts, checked by the same policy as the JSON API.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from events.envelope import CODE_PATTERN, Role
from events.wishes import ClaimMode, WishCategory
from services.runtime.access import caller_of
from services.runtime.idempotency import IdempotencyKeyReusedError
from services.runtime.identity import Access, Principal
from services.runtime.pages import Form, FormTooLargeError, PageAccess, read_form, signed_in
from services.runtime.place import Place
from services.runtime.policy import POLICY, ForbiddenError
from services.tickets.i18n import Words, words_for
from services.tickets.signin import page_templates, to_signin
from services.tickets.territory import UnknownPlaceError
from services.tickets.wishes.api import PostWish
from services.tickets.wishes.application import ClaimRefusedError, WishDesk, WishOutcome
from services.tickets.wishes.board import BoardEntry, WishBoardView
from services.tickets.wishes.domain import (
    CLAIMABLE,
    IllegalTransitionError,
    InvalidWishError,
    WishNotFoundError,
)

MAX_KEY_CHARS = 128
BOARD_LIMIT = 200
_CODE = re.compile(CODE_PATTERN)
M = TypeVar("M", bound=BaseModel)
BoardPlace = tuple[str, str]
"""Where a board page stands: (district, community)."""


class FormError(Exception):
    """A form field failed validation; the page names it."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _field_problem(exc: Exception, words: Words) -> str:
    field = str(getattr(exc, "field", "form"))
    return words.labels["invalid"].format(field=words.labels.get(field, field))


def _refusal(exc: Exception, words: Words) -> str:
    assert isinstance(exc, ClaimRefusedError)
    claimants = words.labels["list_sep"].join(exc.claimants) or "—"
    return words.refusals[exc.reason].format(claimants=claimants)


def _not_claimable(exc: Exception, words: Words) -> str:
    assert isinstance(exc, IllegalTransitionError)
    return words.labels["not_claimable"].format(state=words.states[exc.state])


PROBLEMS: dict[type[Exception], tuple[int, Callable[[Exception, Words], str]]] = {
    FormError: (422, _field_problem),
    InvalidWishError: (422, _field_problem),
    UnknownPlaceError: (422, _field_problem),
    IdempotencyKeyReusedError: (422, lambda _, words: words.labels["form_reused"]),
    FormTooLargeError: (413, lambda _, words: words.labels["too_large"]),
    ClaimRefusedError: (409, _refusal),
    IllegalTransitionError: (409, _not_claimable),
}
"""Errors that re-render the board with a message; an unknown wish gets the 404 page instead."""
REFUSED: tuple[type[Exception], ...] = (*PROBLEMS, ForbiddenError)


def _validated(model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        location = exc.errors()[0]["loc"]
        raise FormError("_".join(str(part) for part in location) or "form") from None


def _posting(place: Place, form: Form, principal: Principal) -> PostWish:
    """A resident posts for themselves; staff name the resident (the guard records it). The
    place comes from the board and the territory: nobody types a street code."""
    fields = ("title", "category", "claim_mode", "quota")
    data: dict[str, Any] = {name: form[name] for name in fields if name in form}
    data["resident_id"] = (
        principal.person or principal.id
        if principal.role is Role.RESIDENT
        else form.get("resident_id", "")
    )
    if "contact_name" in form or "contact_phone" in form:
        data["contact"] = {
            "name": form.get("contact_name", ""),
            "phone": form.get("contact_phone", ""),
        }
    return _validated(PostWish, {**place.__dict__, **data})


def _personal(posting: PostWish) -> dict[str, Any] | None:
    return {"contact": posting.contact.model_dump(), "details": None} if posting.contact else None


def _form_key(form: Form) -> str | None:
    """The form's one-time key, used as the command's idempotency key."""
    key = form.get("key")
    if key is not None and len(key) > MAX_KEY_CHARS:
        raise FormError("key")
    return key


def _own_unit(access: Access) -> str:
    """Unit staff claim for the unit their token names, never one typed into a form."""
    if access.principal.unit is None:
        raise ForbiddenError("policy.not_your_unit", f"{access.action} needs a member unit")
    return access.principal.unit


def is_claimable(entry: BoardEntry) -> bool:
    return entry.state in CLAIMABLE and len(entry.claimants) < entry.quota


def _may(principal: Principal, action: str) -> bool:
    return principal.role in POLICY[action].roles


def _is_place(where: BoardPlace) -> bool:
    return all(_CODE.fullmatch(code) for code in where)


def _wish_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise WishNotFoundError(UUID(int=0)) from None


def _board_path(request: Request, where: BoardPlace) -> str:
    return request.url_for("wish_board", district=where[0], community=where[1]).path


class BoardPage:
    """Renders one community's board, and answers a form with a redirect or a refusal."""

    def __init__(self, view: WishBoardView) -> None:
        self.view = view
        self.templates = page_templates()

    async def render(
        self, request: Request, where: BoardPlace, words: Words, signed: PageAccess, *,
        status: int = 200, message: str | None = None, form: Form | None = None,
    ) -> HTMLResponse:  # fmt: skip
        (district, community), principal = where, signed.principal
        entries = await run_in_threadpool(
            lambda: self.view.entries(district=district, community=community, limit=BOARD_LIMIT)
        )
        prefilled = {"grid": principal.scope.grid or ""}
        html = self.templates.get_template("board.html").render(
            w=words, district=district, community=community, entries=entries,
            is_claimable=is_claimable, board_url=_board_path(request, where), message=message,
            form={**prefilled, **(form or {})}, principal=principal,
            is_resident=principal.role is Role.RESIDENT, may_post=_may(principal, "wish.post"),
            may_claim=_may(principal, "wish.claim"), signout_url=request.url_for("signout").path,
            categories=list(WishCategory), modes=list(ClaimMode), key=str(uuid4()),
        )  # fmt: skip
        return HTMLResponse(html, status_code=status)

    def notice(
        self, words: Words, message: str, status: int, board_url: str | None = None
    ) -> HTMLResponse:
        html = self.templates.get_template("notice.html").render(
            w=words, message=message, board_url=board_url
        )
        return HTMLResponse(html, status_code=status)

    def admit(
        self, request: Request, where: BoardPlace, words: Words, signed: PageAccess | None
    ) -> PageAccess | Response:
        """The signed, or what to answer instead: 404 for an unknown board, sign-in if anonymous."""
        if not _is_place(where):
            return self.missing(request, words, where)
        if signed is None:
            return to_signin(request, _board_path(request, where) + words.query, words)
        return signed

    def missing(self, request: Request, words: Words, where: BoardPlace) -> HTMLResponse:
        if not _is_place(where):
            return self.notice(words, words.labels["board_not_found"], 404)
        board_url = _board_path(request, where)
        return self.notice(words, words.labels["wish_not_found"], 404, board_url)

    async def refuse(
        self, request: Request, where: BoardPlace, words: Words, signed: PageAccess, exc: Exception,
        form: Form,
    ) -> HTMLResponse:  # fmt: skip
        if isinstance(exc, ForbiddenError):
            status, message = 403, signed.refusal(exc, words)
        else:
            status, explain = PROBLEMS[type(exc)]
            message = explain(exc, words)
        if isinstance(exc, ClaimRefusedError):
            await self.view.wait_for(exc.outcome.position)  # so the board shows the winner
        return await self.render(
            request, where, words, signed, status=status, message=message, form=form
        )

    async def done(
        self, request: Request, where: BoardPlace, words: Words, outcome: WishOutcome
    ) -> Response:
        await self.view.wait_for(outcome.position)
        url = f"{_board_path(request, where)}{words.query}#wish-{outcome.wish.id}"
        return RedirectResponse(url, status_code=303)


def page_router(board: WishDesk, view: WishBoardView) -> APIRouter:
    router = APIRouter(prefix="/board/{district}/{community}", include_in_schema=False)
    page = BoardPage(view)

    @router.get("", name="wish_board", response_class=HTMLResponse)
    async def show_board(
        request: Request,
        district: str,
        community: str,
        signed: Annotated[PageAccess | None, signed_in("wish.read")],
        lang: str | None = None,
    ) -> Response:
        where, words = (district, community), words_for(lang)
        if isinstance(visitor := page.admit(request, where, words, signed), Response):
            return visitor
        try:
            visitor.access()
        except ForbiddenError as exc:
            return page.notice(words, visitor.refusal(exc, words), 403)
        return await page.render(request, where, words, visitor)

    @router.post("/wishes", response_class=HTMLResponse)
    async def post_wish(
        request: Request,
        district: str,
        community: str,
        signed: Annotated[PageAccess | None, signed_in("wish.post")],
        lang: str | None = None,
    ) -> Response:
        where, words, form = (district, community), words_for(lang), {}
        if isinstance(visitor := page.admit(request, where, words, signed), Response):
            return visitor
        try:
            form = await read_form(request)
            access = visitor.access(_form_key(form))
            place = await run_in_threadpool(
                board.atlas.locate, district, community, form.get("grid")
            )
            posting = _posting(place, form, access.principal)
            outcome = await run_in_threadpool(
                lambda: board.post_wish(
                    caller_of(access), place=place,
                    resident_id=posting.resident_id, title=posting.title,
                    category=posting.category, claim_mode=posting.claim_mode,
                    quota=posting.quota, personal=_personal(posting),
                )
            )  # fmt: skip
        except REFUSED as exc:
            return await page.refuse(request, where, words, visitor, exc, form)
        return await page.done(request, where, words, outcome)

    @router.post("/wishes/{wish_id}/claims", response_class=HTMLResponse)
    async def claim_wish(
        request: Request,
        district: str,
        community: str,
        wish_id: str,
        signed: Annotated[PageAccess | None, signed_in("wish.claim")],
        lang: str | None = None,
    ) -> Response:
        where, words, form = (district, community), words_for(lang), {}
        if isinstance(visitor := page.admit(request, where, words, signed), Response):
            return visitor
        try:
            wish = _wish_id(wish_id)
            current = await run_in_threadpool(board.get_wish, wish)
            if (current.district, current.community) != where:
                raise WishNotFoundError(wish)
            form = await read_form(request)
            access = visitor.access(_form_key(form))
            outcome = await run_in_threadpool(
                board.claim_wish, caller_of(access), wish, _own_unit(access)
            )
        except WishNotFoundError:
            return page.missing(request, words, where)
        except REFUSED as exc:
            return await page.refuse(request, where, words, visitor, exc, form)
        return await page.done(request, where, words, outcome)

    return router
