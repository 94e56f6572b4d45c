"""The visit routes: record a door-knocking round, read its notes for a stated reason."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from events.envelope import Code
from services.runtime.access import REASON, PersonId, caller_of
from services.runtime.identity import Access, authorize
from services.runtime.place import Place
from services.runtime.text import Body, Title
from services.tickets.ticketing.snapshots import VisitNotes, VisitOutcome
from services.tickets.ticketing.visiting import VisitDesk


class Finding(Body):
    title: Title
    category: Code


class RecordVisit(Body):
    prose = frozenset({"notes"})

    district: Code
    street: Code
    community: Code
    grid: Code
    building: Code | None = None
    households: Annotated[int, Field(ge=0, le=500)]
    household_ids: Annotated[list[PersonId], Field(max_length=500, default_factory=list)]
    notes: Annotated[str | None, Field(max_length=4000)] = None
    """The visit diary (民情日记): restricted, sealed like other personal data."""
    findings: Annotated[list[Finding], Field(max_length=20, default_factory=list)]


def visit_router(visits: VisitDesk) -> APIRouter:
    router = APIRouter(prefix="/visits", tags=["visits"])

    @router.post("", status_code=201, response_model=VisitOutcome)
    async def record_visit(
        body: RecordVisit, access: Annotated[Access, authorize("visit.record")]
    ) -> VisitOutcome:
        """A door-knocking visit (敲门行动); each finding opens a proactive ticket."""
        notes = {"notes": body.notes} if body.notes else None
        return await run_in_threadpool(
            lambda: visits.record_visit(
                caller_of(access),
                place=Place(body.district, body.street, body.community, body.grid),
                building=body.building,
                households=body.households,
                household_ids=list(body.household_ids),
                findings=[(f.title, f.category) for f in body.findings],
                notes=notes,
            )
        )

    @router.get("/{visit_id}", response_model=VisitNotes)
    async def visit_notes(
        visit_id: UUID,
        access: Annotated[Access, authorize("visit.read")],
        reason: Annotated[str, Query(min_length=4, max_length=200, pattern=REASON)],
    ) -> VisitNotes:
        """Restricted: the notes are shown for a stated reason, and the read is logged."""
        return await run_in_threadpool(visits.visit_notes, caller_of(access), visit_id, reason)

    return router
