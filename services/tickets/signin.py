"""Who is signed in on the pages, and the embedded default's demo sign-in (演示登录).

A page acts as the principal of its sign-in cookie, checked by the same policy as the JSON
API. Only a service holding the signing key offers demo sign-in; a real deployment signs people
in at its identity provider, whose tokens arrive as a bearer header or in the same cookie.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from events.envelope import Role
from services.runtime.identity import (
    COOKIE,
    AuthSettings,
    Claims,
    Principal,
    Scope,
    issue_token,
    principal_of,
)
from services.runtime.pages import page_templates as shared_templates
from services.tickets.i18n import Words, words_for

TEMPLATES = Path(__file__).parent / "templates"
DISTRICT = "jinfeng"
STREET = Scope(district=DISTRICT, street="s01")
"""The demo district as `shiliu/demo.py` draws and seeds it: community c01 lies in street s01."""
COMMUNITY = Scope(district=DISTRICT, street="s01", community="c01")
GRID = Scope(district=DISTRICT, street="s01", community="c01", grid="g01")
LIFETIME = timedelta(hours=8)
MAX_NEXT_CHARS = 2000
OVERSIGHT = frozenset({Role.STREET_OFFICIAL, Role.DISTRICT_OFFICIAL, Role.AUDITOR, Role.OPERATOR})

ACCOUNTS = {
    account.sub: account
    for account in (
        Claims(sub="resident-c01-0", role=Role.RESIDENT, scope=COMMUNITY, person="resident-c01-0"),
        Claims(sub="building-chief-c01-g01", role=Role.BUILDING_CHIEF, scope=GRID),
        Claims(sub="grid-worker-c01-g01", role=Role.GRID_WORKER, scope=GRID),
        Claims(sub="staff-c01", role=Role.COMMUNITY_STAFF, scope=COMMUNITY),
        Claims(sub="secretary-c01", role=Role.COMMUNITY_SECRETARY, scope=COMMUNITY),
        Claims(sub="unit-c01-1-staff", role=Role.UNIT_STAFF, scope=COMMUNITY, unit="unit-c01-1"),
        Claims(sub="unit-c01-2-staff", role=Role.UNIT_STAFF, scope=COMMUNITY, unit="unit-c01-2"),
        Claims(sub="volunteer-c01-1", role=Role.VOLUNTEER, scope=COMMUNITY),
        Claims(sub="mediator-s01", role=Role.MEDIATOR, scope=STREET),
        Claims(sub="official-s01", role=Role.STREET_OFFICIAL, scope=STREET),
        Claims(sub="official-jinfeng", role=Role.DISTRICT_OFFICIAL, scope=Scope(district=DISTRICT)),
        Claims(sub="auditor-jinfeng", role=Role.AUDITOR, scope=Scope(district=DISTRICT)),
        Claims(sub="operator-1", role=Role.OPERATOR, scope=Scope()),
    )
}
"""One demo account per role, with the ids the demo seed uses for residents, units and staff."""


def page_templates() -> Environment:
    return shared_templates(TEMPLATES)


def to_signin(request: Request, back: str, words: Words) -> RedirectResponse:
    """303 to the sign-in page, which sends the principal back to `back` (a local path)."""
    query = urlencode({**dict(parse_qsl(words.query[1:])), "next": back})
    return RedirectResponse(f"{request.url_for('signin_page').path}?{query}", status_code=303)


def local_path(url: str, sites: Sequence[str] = ()) -> str | None:
    """`url` when it names a page of this site, or of one of the sibling `sites` (origins such
    as `http://127.0.0.1:8703`, the other services' pages); else None: no open redirects."""
    unsafe = any(ord(c) < 0x20 or ord(c) == 0x7F for c in url)
    if len(url) > MAX_NEXT_CHARS or "\\" in url or unsafe:
        return None  # browsers read "\" as "/" and drop tabs and newlines: "/\evil" goes off-site
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        origin = f"{parts.scheme}://{parts.netloc}"
        sibling = origin in sites and not parts.username and url.startswith(origin + "/")
        return url if sibling else None
    return url if url.startswith("/") and not url.startswith("//") else None


def home(account: Claims) -> str:
    """The board an account lands on: its own community, else the district's first."""
    scope = account.scope
    return f"/board/{scope.district or DISTRICT}/{scope.community or COMMUNITY.community}"


class SigninPage:
    def __init__(self, auth: AuthSettings) -> None:
        self.auth = auth
        self.key = auth.signing_key_file.read_bytes() if auth.signing_key_file else None
        self.templates = page_templates()

    def render(
        self, request: Request, words: Words, *, next_url: str = "", status: int = 200,
        message: str | None = None,
    ) -> HTMLResponse:  # fmt: skip
        groups = [
            (words.labels[label], [a for a in ACCOUNTS.values() if (a.role in OVERSIGHT) is last])
            for label, last in (("community_roles", False), ("oversight_roles", True))
        ]
        switch = {"lang": words.labels["switch_lang"], **({"next": next_url} if next_url else {})}
        html = self.templates.get_template("signin.html").render(
            w=words, groups=groups if self.key else [], next_url=next_url, message=message,
            scope_text=lambda scope: " / ".join(c for c in scope.model_dump().values() if c)
            or words.labels["everywhere"],
            current=_current(request), signin_url=request.url_for("signin").path,
            signout_url=request.url_for("signout").path,
            switch_url=f"{request.url_for('signin_page').path}?{urlencode(switch)}",
        )  # fmt: skip
        return HTMLResponse(html, status_code=status)

    def sign_in(self, request: Request, account: Claims, target: str) -> Response:
        assert self.key is not None
        token = issue_token(self.key, account, issuer=self.auth.issuer,
                            audience=self.auth.audience, lifetime=LIFETIME)  # fmt: skip
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE, token, max_age=int(LIFETIME.total_seconds()), path="/", httponly=True,
            samesite="lax", secure=request.url.scheme == "https",
        )  # fmt: skip
        return response


def _current(request: Request) -> Principal | None:
    if COOKIE not in request.cookies:
        return None
    try:
        return principal_of(request)
    except HTTPException:  # an expired or foreign cookie: simply not signed in
        return None


def signin_router(auth: AuthSettings, sites: Sequence[str] = ()) -> APIRouter:
    """Demo sign-in; `next` may name this site's pages or a sibling site's."""
    router = APIRouter(include_in_schema=False)
    page = SigninPage(auth)

    @router.get("/signin", name="signin_page", response_class=HTMLResponse)
    async def signin_page(
        request: Request, lang: str | None = None,
        next_url: Annotated[str, Query(alias="next")] = "",
    ) -> HTMLResponse:  # fmt: skip
        words = words_for(lang)
        if page.key is None:
            return page.render(request, words, status=404, message=words.labels["no_signin"])
        return page.render(request, words, next_url=local_path(next_url, sites) or "")

    @router.post("/signin", name="signin", response_class=HTMLResponse)
    async def sign_in(request: Request, lang: str | None = None) -> Response:
        words = words_for(lang)
        if page.key is None:
            return page.render(request, words, status=404, message=words.labels["no_signin"])
        # the shared limits cap the body; this form has only these two fields
        form = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace")))
        account = ACCOUNTS.get(form.get("account", ""))
        if account is None:
            return page.render(request, words, status=400, message=words.labels["unknown_account"])
        target = local_path(form.get("next") or home(account) + words.query, sites)
        if target is None:
            return page.render(request, words, status=400, message=words.labels["bad_next"])
        return page.sign_in(request, account, target)

    @router.post("/signout", name="signout")
    async def sign_out(request: Request, lang: str | None = None) -> Response:
        words = words_for(lang)
        url = f"{request.url_for('signin_page').path}{words.query}"
        response = RedirectResponse(url, status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response

    return router
