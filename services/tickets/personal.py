"""A person's data across every peer: erasure (PIPL) and the log of unmasked reads, over HTTP.

Each peer seals the personal data of its own records (a wish's contact, a ticket's requester,
a dispute's parties, a visit's notes) in the one vault; erasing a person destroys their key,
so every record of theirs is gone at once while the events and figures stay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Annotated
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from services.runtime.access import PERSON_ID, REASON, caller_of
from services.runtime.commands import Caller
from services.runtime.idempotency import IdempotencyKeyReusedError, receipt_id
from services.runtime.identity import Access, authorize
from services.runtime.personal import (
    Disclosure,
    Erasure,
    PersonErasedError,
    PersonNotFoundError,
    PersonRecordsChangedError,
)
from services.runtime.place import NOWHERE, Place
from services.runtime.policy import OUTSIDE_TERRITORY, ForbiddenError
from services.runtime.text import Body
from services.tickets.access import erasure_guard
from services.tickets.store import TicketsStore

_ERASE_ATTEMPTS = 5
"""Checks of an erasure whose records keep changing before it gives up (409)."""


class PersonalData:
    """Erasure and the access log over the tickets store's vault."""

    def __init__(self, store: TicketsStore) -> None:
        self.store = store
        self.vault = store.vault

    def erase_person(
        self,
        caller: Caller,
        person_id: str,
        reason: str,
        may_erase: Callable[[str, Place], None] | None = None,
    ) -> Erasure:
        """Destroy the person's key: their data is gone, their wishes and the figures stay.

        `may_erase(kind, place)` raises unless the caller may erase a record of that kind
        lying there; every record of the person is checked (one outside refuses them all), and
        checked again when a record was sealed meanwhile (it may lie outside). Retried with its
        idempotency key, it answers the first answer."""
        request = self._request(caller)
        if request is not None and self.vault is not None:
            first = self.vault.requested_erasure(request)
            if first is not None and (first.person_id, first.reason) == (person_id, reason):
                return first
            if first is not None:
                raise IdempotencyKeyReusedError(str(caller.idempotency_key))
        for attempt in range(_ERASE_ATTEMPTS):
            records = self._records_of(person_id)
            if may_erase is not None:
                self._check(person_id, records, may_erase)
            try:
                return self.vault.erase(  # type: ignore[union-attr]  # _records_of checked it
                    person_id, actor_id=caller.actor_id, role=caller.role, reason=reason,
                    at=self.store.clock(), checked=records.keys(), request=request,
                )  # fmt: skip
            except PersonRecordsChangedError:
                if attempt == _ERASE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _request(self, caller: Caller) -> str | None:
        """A keyed erasure's request: who asked with which key. The key must not be one a
        command of theirs already used (IdempotencyKeyReusedError)."""
        if caller.idempotency_key is None:
            return None
        try:
            self.store.repository.get(receipt_id(caller.receipts, caller.idempotency_key))
        except AggregateNotFoundError:
            asked = orjson.dumps([caller.receipts, caller.idempotency_key])
            return hashlib.sha256(asked).hexdigest()
        raise IdempotencyKeyReusedError(caller.idempotency_key)

    def _check(
        self, person_id: str, records: Mapping[str, str], may_erase: Callable[[str, Place], None]
    ) -> None:
        """`may_erase` for every record; a caller none of whose records lies inside their
        territory is told there is no such person (a 403 naming where would tell them)."""
        outside = []
        for record_id, kind in records.items():
            try:
                may_erase(kind, self._place_of_record(record_id))
            except ForbiddenError as refusal:
                if refusal.code != OUTSIDE_TERRITORY:
                    raise
                outside.append(refusal)
        if outside and len(outside) == len(records):
            raise PersonNotFoundError(person_id)
        if outside:
            raise outside[0]

    def _records_of(self, person_id: str) -> dict[str, str]:
        """The person's records; PersonErasedError or PersonNotFoundError when there are none."""
        records = self.vault.records(person_id) if self.vault else {}
        if self.vault is None or not records:
            erased = self.vault.erasure(person_id) if self.vault else None
            if erased is not None:
                raise PersonErasedError(person_id, erased.erased_at)
            raise PersonNotFoundError(person_id)
        return records

    def personal_accesses(
        self, *, within: Mapping[str, str], person_id: str | None, limit: int, offset: int
    ) -> list[Disclosure]:
        """The access log of unmasked reads inside a territory, newest first."""
        if self.vault is None:
            return []
        return self.vault.disclosures(
            within=within, person_id=person_id, limit=limit, offset=offset
        )

    def _place_of_record(self, record_id: str) -> Place:
        """Where a sealed record lies: the place of the wish, ticket, visit or dispute it
        belongs to (record ids are `<id>`, `<id>:<kind>:<n>`, `<id>:filing` or `visit:<id>`).
        A record of nothing known lies nowhere, which only an unlimited scope contains."""
        try:
            found: object = self.store.repository.get(UUID(record_id.removeprefix("visit:")[:36]))
        except (ValueError, AggregateNotFoundError):
            return NOWHERE
        place = getattr(found, "place", None)
        return place if isinstance(place, Place) else NOWHERE


class ErasureOrder(Body):
    reason: Annotated[str, Field(min_length=4, max_length=200, pattern=REASON)]


def personal_router(personal: PersonalData) -> APIRouter:
    """Erasure (PIPL) and the log of who saw unmasked personal data."""
    router = APIRouter(tags=["personal data"])

    @router.post("/persons/{person_id}/erasure", response_model=Erasure)
    async def erase_person(
        person_id: Annotated[str, Path(pattern=PERSON_ID)],
        body: ErasureOrder,
        access: Annotated[Access, authorize("person.erase")],
    ) -> Erasure:
        return await run_in_threadpool(
            personal.erase_person, caller_of(access), person_id, body.reason,
            erasure_guard(access),
        )  # fmt: skip

    @router.get("/ops/personal-access", response_model=list[Disclosure])
    async def personal_access(
        access: Annotated[Access, authorize("ops.read")],
        person_id: Annotated[str | None, Query(pattern=PERSON_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[Disclosure]:
        """Unmasked reads inside the caller's territory, newest first."""
        scope = access.principal.scope.model_dump(exclude_none=True)
        return await run_in_threadpool(
            lambda: personal.personal_accesses(
                within=scope, person_id=person_id, limit=limit, offset=offset
            )
        )

    return router
