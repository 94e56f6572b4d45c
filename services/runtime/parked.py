"""Messages a consumer parked, for the operator: listed, read whole, and retried after a fix,
the same way in every service that consumes another's feeds (the ledger's books, matching's
wishes and tickets, the tickets service's roster of units)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from events.envelope import INT64_MAX
from services.runtime.database import Cursor, Database
from services.runtime.feeds import Family
from services.runtime.identity import authorize
from services.runtime.intake import SETTLED_HEADER
from services.runtime.parking import ParkedMessage, ParkingLot


def retry_parked(database: Database, families: Sequence[Family[Any]], parked_id: int) -> str | None:
    """Put a parked message through its family's intake again, after a fix: None when it was
    applied, else why it stays parked. A message parked behind an earlier one of its
    aggregate is applied after it, in order, or not at all. Raises `LookupError` when nothing
    is parked so."""
    with database.transaction() as tx:
        for family in families:  # retries take turns, settling waits: see Intake.lock_in
            family.intake.lock_in(tx)
        found = ParkingLot.find_in(tx, parked_id)
        if found is None:  # never parked, or applied by a retry that went first
            raise LookupError(parked_id)
        owners = [f for f in families if f.spec.durable == found[0]]
        if not owners:  # parked by a consumer this service no longer has
            raise LookupError(parked_id)
        family, applied = owners[0], False
        for retried in family.intake.held_with_in(tx, parked_id):
            if (why := _retry_in(tx, family, retried)) is not None:
                if applied or retried == parked_id:
                    return None if applied else why
                return f"waits behind parked message {retried}, which failed again: {why}"
            applied = applied or retried == parked_id
    return None


def _retry_in(tx: Cursor, family: Family[Any], parked_id: int) -> str | None:
    found = ParkingLot.find_in(tx, parked_id)
    assert found is not None, "a held message is parked until it is applied"
    _, payload, headers = found
    why: str | None
    if headers.get(SETTLED_HEADER) != "parked":
        why = "never settled in its feed (malformed, forged or unnumbered): not retried"
    else:
        try:
            event = family.adapter.validate_json(payload)
        except ValidationError as error:
            why = f"still not a known {family.noun}: {error.error_count()} errors"
        else:
            why = family.intake.retry_parked_in(tx, parked_id, event)
    if why is not None:
        ParkingLot.note_in(tx, parked_id, why)
    return why


ParkedId = Annotated[int, Path(ge=1, le=INT64_MAX)]


def parked_router(
    parking: ParkingLot, retry: Callable[[int], str | None], *, service: str
) -> APIRouter:
    """`/ops/parked`: what the service's consumers parked, for operators (`ops.read`), and a
    retry after a fix (`ops.repair`). Unknown ids answer `{service}.parked_not_found`."""
    router = APIRouter(prefix="/ops", tags=["ops"])

    def missing(parked_id: int) -> HTTPException:
        detail = {"code": f"{service}.parked_not_found", "parameter": "parked_id",
                  "message": f"nothing parked as {parked_id}"}  # fmt: skip
        return HTTPException(404, detail)

    @router.get("/parked", response_model=list[ParkedMessage], dependencies=[authorize("ops.read")])
    async def parked(
        consumer: Annotated[str | None, Query(max_length=100)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[ParkedMessage]:
        return await run_in_threadpool(lambda: parking.list(consumer=consumer, limit=limit))

    @router.get(
        "/parked/{parked_id}", response_model=ParkedMessage, dependencies=[authorize("ops.read")]
    )
    async def parked_message(parked_id: ParkedId) -> ParkedMessage:
        """One parked message with its whole payload (the list shows the first 4 KB)."""
        found = await run_in_threadpool(parking.one, parked_id)
        if found is None:
            raise missing(parked_id)
        return found

    @router.post("/parked/{parked_id}/retry", dependencies=[authorize("ops.repair")])
    async def retry_message(parked_id: ParkedId) -> dict[str, Any]:
        """Apply a parked message again after a fix; it stays parked (with the new reason)
        if it still cannot be applied."""
        try:
            why = await run_in_threadpool(retry, parked_id)
        except LookupError:
            raise missing(parked_id) from None
        return {"applied": why is None, "reason": why}

    return router
