"""What every service's server-rendered pages share: templates (the service's own folder, then
the shared base), the signed-in principal with its page's policy check, and bounded forms.

A page acts as the principal of its sign-in cookie, checked by the same policy as the JSON
API; the cookie is set by the tickets service's sign-in and read by every service on the host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import Depends, HTTPException, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from events.envelope import Role
from services.runtime.identity import Access, Principal, authorize, principal_of
from services.runtime.policy import ForbiddenError

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_BYTES = 16_384
Form = dict[str, str]


def page_templates(*folders: Path) -> Environment:
    """Templates looked up in the service's folders first, then the shared `base.html`."""
    return Environment(
        loader=FileSystemLoader([*folders, TEMPLATES]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class RefusalWords(Protocol):
    """The words a page needs to explain a policy refusal."""

    @property
    def forbidden(self) -> Mapping[str, str]: ...
    @property
    def roles(self) -> Mapping[Role, str]: ...
    @property
    def actions(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class PageAccess:
    """A signed-in principal on a page route, with that route's policy check."""

    principal: Principal
    action: str
    check: Callable[[Principal, UUID | None, str | None], Access]

    def access(self, key: str | None = None) -> Access:
        """Allowed by role exactly as `authorize` decides for the JSON API, or ForbiddenError."""
        return self.check(self.principal, None, key)

    def refusal(self, exc: ForbiddenError, words: RefusalWords) -> str:
        """The policy's reason, in the page's language."""
        template = words.forbidden.get(exc.code, words.forbidden[""])
        role = words.roles.get(self.principal.role, self.principal.role.value)
        return template.format(role=role, action=words.actions.get(self.action, self.action))


def signed_in(action: str) -> Any:
    """A page's `authorize(action)`: None when nobody is signed in, so the page can send them
    to sign in; a refusal is left to the route, which answers it as a page rather than JSON."""
    check = authorize(action).dependency

    def dependency(request: Request) -> PageAccess | None:
        try:
            return PageAccess(principal_of(request), action, check)
        except HTTPException:
            return None

    dependency.action = action  # type: ignore[attr-defined]
    return Depends(dependency)


class FormTooLargeError(Exception):
    """The body is larger than any form on the page can produce."""


async def read_form(request: Request) -> Form:
    """The url-encoded body with blanks dropped (no multipart: the pages' forms never send it)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormTooLargeError
    pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: value.strip() for name, value in pairs if value.strip()}
