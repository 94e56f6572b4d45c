"""From an authorised HTTP request to a command's `Caller`, for every writing service: the
guard that checks territory and person, stricter policy entries for revealing what is masked,
and the shapes of the ids and reasons callers send."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from pydantic import Field

from services.runtime.commands import Caller, Where
from services.runtime.identity import Access
from services.runtime.policy import POLICY, ForbiddenError

PersonId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
PERSON_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
_VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f]"
REASON = rf"^{_VISIBLE}([^\x00-\x1f\x7f-\x9f]*{_VISIBLE})?$"
"""Why personal data is revealed or erased (4–200 characters, no control characters, not
padded): kept in the audit rows."""


def caller_of(access: Access) -> Caller:
    """The application's view of an authorised request; the guard checks territory and owner."""

    def guard(place: Where, person_id: str, /) -> str | None:
        within(access, place)
        return access.check_person(person_id)

    return Caller(
        actor_id=access.principal.id,
        role=access.principal.role.value,
        correlation_id=access.correlation_id,
        idempotency_key=access.idempotency_key,
        guard=guard,
        authority=access.principal.authority,
        unit_guard=access.check_unit,
    )


def within(access: Access, place: Where) -> None:
    """ForbiddenError unless the caller's scope holds `place`."""
    access.check_place(
        district=place.district, street=place.street, community=place.community, grid=place.grid
    )


def escalated(access: Access, action: str) -> Access:
    """The same request, held to a stricter policy entry (revealing what is masked)."""
    rule = POLICY[action]
    if access.principal.role not in rule.roles:
        message = f"a {access.principal.role.value} may not {action}"
        raise ForbiddenError("policy.role_not_allowed", message)
    return dataclasses.replace(access, action=action, rule=rule)
