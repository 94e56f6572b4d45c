"""What matching's pages share: the templates, the signed-in visitor (or the way to sign in),
refusals answered as pages, and a form's command answered with a redirect once the views show
it. The pages act through the same desks and the same policy table as the JSON API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from services.matching.lists.application import Lists
from services.matching.matches.application import MatchDesk
from services.matching.matches.coordinating import Coordinator
from services.matching.matches.records import MatchRecords
from services.matching.matches.view import MatchesView
from services.matching.pages.words import Words
from services.matching.registry.application import UnitRegistry
from services.matching.territory import Places
from services.matching.view import ListsView
from services.runtime.follower import LocalView
from services.runtime.http import Details
from services.runtime.idempotency import IdempotencyKeyReusedError
from services.runtime.identity import Access
from services.runtime.pages import Form, FormTooLargeError, PageAccess, page_templates
from services.runtime.place import Clock
from services.runtime.policy import COMMUNITY_DESK, POLICY, ForbiddenError

TEMPLATES = Path(__file__).parent / "templates"
MAX_KEY_CHARS = 128
M = TypeVar("M", bound=BaseModel)


class FormFieldError(Exception):
    """A form field the command cannot take, named for the page to point at."""

    code = "form.invalid"

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class PageNotFoundError(Exception):
    """The page names nothing matching knows (or nothing the visitor's page may show)."""


def form_key(form: Form) -> str | None:
    """The form's idempotency key (each rendered form carries a fresh one)."""
    key = form.get("key")
    return key if key and len(key) <= MAX_KEY_CHARS else None


def parsed(model: type[M], data: Mapping[str, Any]) -> M:
    """The form as the API's body model, or FormFieldError naming its first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = [str(part) for part in exc.errors()[0]["loc"]]
        raise FormFieldError(where[-1] if where else "form") from None


def short_time(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else ""


class Pages:
    """Renders matching's pages in the visitor's language."""

    def __init__(
        self, signin_url: str | None, views: tuple[LocalView, ...],
        errors: Mapping[type[Exception], tuple[int, Details]],
    ) -> None:  # fmt: skip
        self.signin_url = signin_url or None
        self.views = views
        self.errors = errors
        """The service's domain errors with the status the JSON API answers them with."""
        self.templates = page_templates(TEMPLATES)

    def render(
        self, template: str, words: Words, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        principal = context.get("principal")
        html = self.templates.get_template(template).render(
            w=words, short_time=short_time, message=context.pop("message", None),
            desk=principal is not None and principal.role in COMMUNITY_DESK, **context,
        )  # fmt: skip
        return HTMLResponse(html, status_code=status)

    def notice(self, words: Words, message: str, status: int, back: str | None = None) -> Response:
        return self.render("notice.html", words, status=status, message=message, back=back)

    def admit(self, request: Request, words: Words, signed: PageAccess | None) -> Response | None:
        """None when someone is signed in; else the way to sign in, coming back here after."""
        if signed is not None:
            return None
        if self.signin_url is None:
            return self.notice(words, words.labels["signin_needed"], 401)
        query = {"next": str(request.url)}
        if words.lang == "en":
            query["lang"] = "en"
        return RedirectResponse(f"{self.signin_url}?{urlencode(query)}", status_code=303)

    async def show(
        self, request: Request, words: Words, signed: PageAccess | None,
        build: Callable[[PageAccess], Awaitable[Response]],
    ) -> Response:  # fmt: skip
        """A page for the signed-in visitor, or the way to sign in; a refusal by the policy
        or a page naming nothing known is answered as a notice."""
        if signed is None:
            return self.admit(request, words, signed) or self.notice(
                words, words.labels["signin_needed"], 401
            )
        try:
            return await build(signed)
        except ForbiddenError as exc:
            return self.notice(words, signed.refusal(exc, words), 403)
        except PageNotFoundError:
            return self.notice(words, words.labels["not_found"], 404)

    def problem(self, exc: Exception, words: Words, signed: PageAccess) -> tuple[int, str]:
        """The status and the words for a refused command or a bad form."""
        if isinstance(exc, ForbiddenError):
            return 403, signed.refusal(exc, words)
        if isinstance(exc, FormFieldError | ValidationError):
            field = getattr(exc, "field", "form")
            return 422, words.labels["invalid"].format(field=words.labels.get(field, field))
        if isinstance(exc, FormTooLargeError):
            return 413, words.labels["invalid"].format(field="form")
        if isinstance(exc, IdempotencyKeyReusedError):
            return 422, words.error(exc.code)
        status = next((self.errors[kind][0] for kind in type(exc).__mro__ if kind in self.errors),
                      409)  # fmt: skip
        return status, words.error(str(getattr(exc, "code", ""))).format(detail=str(exc))

    async def done(self, position: int, url: str) -> Response:
        """Back to the page once its views show what the command saved (read your writes)."""
        for view in self.views:
            await view.wait_for(position)
        return RedirectResponse(url, status_code=303)


def is_desk(access: Access | PageAccess) -> bool:
    """The community's coordinators, who answer for the community's side of a match."""
    return access.principal.role in COMMUNITY_DESK


def may(access: Access | PageAccess, action: str) -> bool:
    """Whether the visitor's role may take `action` at all (territory is checked on use)."""
    principal = access.principal
    return principal.role in POLICY[action].roles


def with_lang(url: str, words: Words, anchor: str = "") -> str:
    return f"{url}{words.query}{'#' + anchor if anchor else ''}"


@dataclass(frozen=True)
class Parts:
    """The pieces of the matching service the pages act through (those the API uses)."""

    registry: UnitRegistry
    lists: Lists
    desk: MatchDesk
    coordinator: Coordinator
    view: ListsView
    matches_view: MatchesView
    records: MatchRecords
    places: Places
    clock: Clock
    board_url: str | None
    """The tickets service's wish boards (`…/board`), where units claim wishes."""
