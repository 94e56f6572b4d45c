"""Who is calling. Until real authentication arrives, the actor comes from request headers;
this module is the one piece to replace.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Header, HTTPException

from events.envelope import Role

ACTOR_ID = "X-Actor-Id"
ACTOR_ROLE = "X-Actor-Role"


class RequestActor:
    """The authenticated actor of one request, and what they asked for it."""

    def __init__(
        self,
        actor_id: str,
        role: Role,
        on_behalf_of: str | None,
        correlation_id: UUID | None,
        idempotency_key: str | None,
    ) -> None:
        self.actor_id = actor_id
        self.role = role
        self.on_behalf_of = on_behalf_of
        self.correlation_id = correlation_id
        self.idempotency_key = idempotency_key


def _missing(header: str) -> HTTPException:
    return HTTPException(
        401,
        {"code": "auth.missing_actor", "message": f"header {header} is required", "field": header},
    )


def current_actor(
    x_actor_id: Annotated[str | None, Header(max_length=64)] = None,
    x_actor_role: Annotated[Role | None, Header()] = None,
    x_on_behalf_of: Annotated[str | None, Header(max_length=64)] = None,
    x_correlation_id: Annotated[UUID | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
) -> RequestActor:
    if not x_actor_id:
        raise _missing(ACTOR_ID)
    if x_actor_role is None:
        raise _missing(ACTOR_ROLE)
    return RequestActor(x_actor_id, x_actor_role, x_on_behalf_of, x_correlation_id, idempotency_key)
