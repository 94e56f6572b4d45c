"""What the tickets service's routes share beyond the runtime's access helpers: a person's
contact as callers send it, and the check of an erasure against every record it touches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from services.runtime.access import escalated, within
from services.runtime.identity import Access
from services.runtime.place import Place
from services.runtime.policy import erasure_action
from services.runtime.text import Body


class Contact(Body):
    """Personal data: kept encrypted in the tickets store, never put on the bus."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    phone: Annotated[str, Field(pattern=r"^\+?[0-9][0-9 -]{5,19}$")]
    address: Annotated[str | None, Field(max_length=200)] = None


def erasure_guard(access: Access) -> Callable[[str, Place], None]:
    """Checks each of a person's records against its kind's erasure entry in the policy."""

    def may_erase(kind: str, place: Place) -> None:
        within(escalated(access, erasure_action(kind)), place)

    return may_erase
