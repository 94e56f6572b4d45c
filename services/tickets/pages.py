"""The wish board (微心愿墙) as a server-rendered page: list, post and claim with plain forms.

No JavaScript and no external assets: every form is an HTML POST answered with a 303 back to
the board, or with the board re-rendered under the error's status code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from events.envelope import CODE_PATTERN, Role
from events.wishes import ClaimMode, WishCategory
from services.runtime.idempotency import IdempotencyKeyReusedError
from services.tickets.api import Claim, PersonId, PostWish
from services.tickets.application import Caller, ClaimRefusedError, Outcome, WishBoard
from services.tickets.board import BoardEntry, WishBoardView
from services.tickets.domain import (
    CLAIMABLE,
    IllegalTransitionError,
    InvalidWishError,
    Place,
    WishNotFoundError,
)
from services.tickets.i18n import PAGE_ROLES, Words, words_for

TEMPLATES = Path(__file__).parent / "templates"
COOKIES = {"actor_id": "shiliu_actor_id", "role": "shiliu_actor_role", "unit_id": "shiliu_unit_id"}
MAX_FORM_BYTES = 16_384
BOARD_LIMIT = 200
_CODE = re.compile(CODE_PATTERN)
M = TypeVar("M", bound=BaseModel)
Form = dict[str, str]
Where = tuple[str, str]


class FormError(Exception):
    """A form field failed validation; the page names it."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class FormTooLargeError(Exception):
    """The body is larger than any form on the page can produce."""


class ActingAs(BaseModel):
    """Who the page acts as until authentication arrives: two form fields and a form key."""

    model_config = ConfigDict(extra="ignore")

    actor_id: PersonId
    role: Role
    key: Annotated[str | None, Field(min_length=1, max_length=128)] = None

    @field_validator("role")
    @classmethod
    def _a_person(cls, role: Role) -> Role:
        if role not in PAGE_ROLES:
            msg = "not a role a person acts in"
            raise ValueError(msg)
        return role

    def caller(self) -> Caller:
        return Caller(actor_id=self.actor_id, role=self.role.value, idempotency_key=self.key)


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
    IdempotencyKeyReusedError: (422, lambda _, words: words.labels["form_reused"]),
    FormTooLargeError: (413, lambda _, words: words.labels["too_large"]),
    ClaimRefusedError: (409, _refusal),
    IllegalTransitionError: (409, _not_claimable),
}
"""Errors that re-render the board with a message; an unknown wish gets the 404 page instead."""
REFUSED = tuple(PROBLEMS)


def _validated(model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        location = exc.errors()[0]["loc"]
        raise FormError("_".join(str(part) for part in location) or "form") from None


def _posting(where: Where, form: Form) -> PostWish:
    fields = ("street", "grid", "resident_id", "title", "category", "claim_mode", "quota")
    data: dict[str, Any] = {name: form[name] for name in fields if name in form}
    if "contact_name" in form or "contact_phone" in form:
        data["contact"] = {
            "name": form.get("contact_name", ""),
            "phone": form.get("contact_phone", ""),
        }
    return _validated(PostWish, {"district": where[0], "community": where[1], **data})


def _personal(posting: PostWish) -> dict[str, Any] | None:
    return {"contact": posting.contact.model_dump(), "details": None} if posting.contact else None


async def _read_form(request: Request) -> Form:
    """The url-encoded body with blanks dropped (no multipart: the page's forms never send it)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormTooLargeError
    pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: value.strip() for name, value in pairs if value.strip()}


def is_claimable(entry: BoardEntry) -> bool:
    return entry.state in CLAIMABLE and len(entry.claimants) < entry.quota


def _is_place(where: Where) -> bool:
    return all(_CODE.fullmatch(code) for code in where)


def _wish_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise WishNotFoundError(UUID(int=0)) from None


def _board_path(request: Request, where: Where) -> str:
    return request.url_for("wish_board", district=where[0], community=where[1]).path


class BoardPage:
    """Renders one community's board, and answers a form with a redirect or a refusal."""

    def __init__(self, view: WishBoardView) -> None:
        self.view = view
        self.templates = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    async def render(
        self, request: Request, where: Where, words: Words, *, status: int = 200,
        message: str | None = None, form: Form | None = None,
    ) -> HTMLResponse:  # fmt: skip
        district, community = where
        entries = await run_in_threadpool(
            lambda: self.view.entries(district=district, community=community, limit=BOARD_LIMIT)
        )
        remembered = {field: request.cookies.get(name, "") for field, name in COOKIES.items()}
        html = self.templates.get_template("board.html").render(
            w=words, district=district, community=community, entries=entries,
            is_claimable=is_claimable, board_url=_board_path(request, where), message=message,
            form={"street": entries[0].street if entries else "", **remembered, **(form or {})},
            roles=PAGE_ROLES, categories=list(WishCategory), modes=list(ClaimMode),
            key=str(uuid4()),
        )  # fmt: skip
        return HTMLResponse(html, status_code=status)

    def missing(self, request: Request, words: Words, where: Where) -> HTMLResponse:
        found = _is_place(where)
        html = self.templates.get_template("missing.html").render(
            w=words,
            message=words.labels["wish_not_found" if found else "board_not_found"],
            board_url=_board_path(request, where) if found else None,
        )
        return HTMLResponse(html, status_code=404)

    async def refuse(
        self, request: Request, where: Where, words: Words, exc: Exception, form: Form
    ) -> HTMLResponse:
        status, explain = PROBLEMS[type(exc)]
        if isinstance(exc, ClaimRefusedError):
            await self.view.wait_for(exc.outcome.position)  # so the board shows the winner
        return await self.render(
            request, where, words, status=status, message=explain(exc, words), form=form
        )

    async def done(
        self, request: Request, where: Where, words: Words, outcome: Outcome, form: Form
    ) -> Response:
        await self.view.wait_for(outcome.position)
        url = f"{_board_path(request, where)}{words.query}#wish-{outcome.wish.id}"
        response = RedirectResponse(url, status_code=303)
        for field, name in COOKIES.items():
            if field in form:
                response.set_cookie(name, form[field], httponly=True, samesite="lax")
        return response


def page_router(board: WishBoard, view: WishBoardView) -> APIRouter:
    router = APIRouter(prefix="/board/{district}/{community}", include_in_schema=False)
    page = BoardPage(view)

    @router.get("", name="wish_board", response_class=HTMLResponse)
    async def show_board(
        request: Request, district: str, community: str, lang: str | None = None
    ) -> Response:
        where, words = (district, community), words_for(lang)
        if not _is_place(where):
            return page.missing(request, words, where)
        return await page.render(request, where, words)

    @router.post("/wishes", response_class=HTMLResponse)
    async def post_wish(
        request: Request, district: str, community: str, lang: str | None = None
    ) -> Response:
        where, words, form = (district, community), words_for(lang), {}
        if not _is_place(where):
            return page.missing(request, words, where)
        try:
            form = await _read_form(request)
            caller, posting = _validated(ActingAs, form).caller(), _posting(where, form)
            outcome = await run_in_threadpool(
                lambda: board.post_wish(
                    caller, place=Place(district, posting.street, community, posting.grid),
                    resident_id=posting.resident_id, title=posting.title,
                    category=posting.category, claim_mode=posting.claim_mode,
                    quota=posting.quota, personal=_personal(posting),
                )
            )  # fmt: skip
        except REFUSED as exc:
            return await page.refuse(request, where, words, exc, form)
        return await page.done(request, where, words, outcome, form)

    @router.post("/wishes/{wish_id}/claims", response_class=HTMLResponse)
    async def claim_wish(
        request: Request, district: str, community: str, wish_id: str, lang: str | None = None
    ) -> Response:
        where, words, form = (district, community), words_for(lang), {}
        try:
            wish = _wish_id(wish_id)
            current = await run_in_threadpool(board.get_wish, wish) if _is_place(where) else None
            if current is None or (current.district, current.community) != where:
                raise WishNotFoundError(wish)
            form = await _read_form(request)
            caller = _validated(ActingAs, form).caller()
            claim = _validated(Claim, {"unit_id": form.get("unit_id", "")})
            outcome = await run_in_threadpool(board.claim_wish, caller, wish, claim.unit_id)
        except WishNotFoundError:
            return page.missing(request, words, where)
        except REFUSED as exc:
            return await page.refuse(request, where, words, exc, form)
        return await page.done(request, where, words, outcome, form)

    return router
