"""The mediation desk's HTTP commands and queries: validate, call one desk method, respond."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from events.disputes import DeclineReason, DisputeKind, MediatorKind, Referral, SessionMode
from events.envelope import Code
from services.runtime.access import PERSON_ID, REASON, PersonId, caller_of, escalated
from services.runtime.http import Details, field_details, no_details
from services.runtime.identity import Access, authorize
from services.runtime.instants import Instant
from services.runtime.place import Place
from services.runtime.routes import Step, add_steps
from services.runtime.text import Body
from services.tickets.mediation.application import MediationDesk, PartyDetails
from services.tickets.mediation.domain import (
    MAX_PARTIES,
    DisputeNotFoundError,
    DisputeTransitionError,
    InvalidDisputeError,
    NotAPartyError,
    NotReadyError,
    RecordNotFoundError,
)
from services.tickets.mediation.snapshots import (
    AgreementRecord,
    DisputeOutcome,
    DisputeSnapshot,
    SessionRecord,
)

Text = Annotated[str, Field(min_length=1, max_length=8000)]
PartyPath = Annotated[str, Path(pattern=PERSON_ID)]
Reason = Annotated[str | None, Query(min_length=4, max_length=200, pattern=REASON)]


class Party(Body):
    """Personal data: the name and phone are sealed under the party's own id."""

    person_id: PersonId
    name: Annotated[str, Field(min_length=1, max_length=40)]
    phone: Annotated[str | None, Field(pattern=r"^\+?[0-9][0-9 -]{5,19}$")] = None


class FileDispute(Body):
    prose = frozenset({"summary"})

    district: Code
    street: Code
    community: Code
    grid: Code | None = None
    kind: DisputeKind
    parties: Annotated[list[Party], Field(min_length=2, max_length=MAX_PARTIES)]
    """The first party is the applicant; a resident files only as the applicant."""
    summary: Annotated[str, Field(min_length=1, max_length=4000)]


class Decline(Body):
    reason: DeclineReason


class Assignment(Body):
    mediator_id: PersonId
    kind: MediatorKind


class Session(Body):
    prose = frozenset({"minutes"})

    mode: SessionMode
    minutes: Text


class Agreement(Body):
    prose = frozenset({"text"})

    text: Text


class Referring(Body):
    to: Referral


class FollowUp(Body):
    prose = frozenset({"notes"})

    holding: bool
    notes: Annotated[str | None, Field(max_length=4000)] = None


class ExtensionRequest(Body):
    due_at: Instant


def _state_details(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, DisputeTransitionError)
    return {"state": exc.state.value}


def _party_details(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, NotAPartyError)
    return {"parties": list(exc.parties)}


def _ready_details(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, NotReadyError)
    return {"missing": exc.missing, "awaiting": list(exc.awaiting)}


ERRORS: dict[type[Exception], tuple[int, Details]] = {
    DisputeNotFoundError: (404, no_details),
    RecordNotFoundError: (404, no_details),
    DisputeTransitionError: (409, _state_details),
    NotAPartyError: (409, _party_details),
    NotReadyError: (409, _ready_details),
    InvalidDisputeError: (422, field_details),
}


def dispute_router(desk: MediationDesk) -> APIRouter:
    router = APIRouter(prefix="/disputes", tags=["disputes"])
    _intake(router, desk)
    add_steps(router, "dispute_id", _steps(desk))
    _records(router, desk)
    _deadline(router, desk)
    return router


def _steps(desk: MediationDesk) -> list[Step[Any, DisputeOutcome, UUID]]:
    """The dispute's steps: decided, staffed, mediated, agreed or referred, followed up."""
    answer = DisputeOutcome
    return [
        Step("accept", "/{dispute_id}/acceptance", "dispute.decide", answer,
             lambda c, d, _: desk.accept(c, d)),
        Step("decline", "/{dispute_id}/decline", "dispute.decide", answer,
             lambda c, d, b: desk.decline(c, d, b.reason), Decline),
        Step("assign", "/{dispute_id}/mediators", "dispute.assign", answer,
             lambda c, d, b: desk.assign(c, d, b.mediator_id, b.kind), Assignment,
             status_code=201),
        Step("hold_session", "/{dispute_id}/sessions", "dispute.mediate", answer,
             lambda c, d, b: desk.hold_session(c, d, b.mode, b.minutes), Session,
             status_code=201),
        Step("sign_agreement", "/{dispute_id}/agreement", "dispute.mediate", answer,
             lambda c, d, b: desk.sign_agreement(c, d, b.text), Agreement),
        Step("refer", "/{dispute_id}/referral", "dispute.decide", answer,
             lambda c, d, b: desk.refer(c, d, b.to), Referring),
        Step("follow_up", "/{dispute_id}/follow-ups", "dispute.mediate", answer,
             lambda c, d, b: desk.follow_up(c, d, b.holding, b.notes), FollowUp,
             status_code=201),
        Step("report_breach", "/{dispute_id}/breach", "dispute.mediate", answer,
             lambda c, d, _: desk.report_breach(c, d)),
        Step("request_extension", "/{dispute_id}/extension-requests", "dispute.extend", answer,
             lambda c, d, b: desk.request_extension(c, d, b.due_at), ExtensionRequest,
             status_code=201),
    ]  # fmt: skip


def _intake(router: APIRouter, desk: MediationDesk) -> None:
    @router.post("", status_code=201, response_model=DisputeOutcome)
    async def file_dispute(
        body: FileDispute, access: Annotated[Access, authorize("dispute.file")]
    ) -> DisputeOutcome:
        parties = [PartyDetails(p.person_id, p.name, p.phone) for p in body.parties]
        place = Place(body.district, body.street, body.community, body.grid)
        return await run_in_threadpool(
            lambda: desk.file(
                caller_of(access), place=place, kind=body.kind, parties=parties,
                summary=body.summary,
            )
        )  # fmt: skip

    @router.get("/{dispute_id}", response_model=DisputeSnapshot)
    async def get_dispute(
        dispute_id: UUID, access: Annotated[Access, authorize("dispute.read")]
    ) -> DisputeSnapshot:
        return await run_in_threadpool(desk.get_dispute, caller_of(access), dispute_id)

    @router.post("/{dispute_id}/parties/{party_id}/consent", response_model=DisputeOutcome)
    async def consent(
        dispute_id: UUID,
        party_id: PartyPath,
        access: Annotated[Access, authorize("dispute.consent")],
    ) -> DisputeOutcome:
        """A resident consents only for themselves; mediators record it on a party's behalf."""
        return await run_in_threadpool(desk.consent, caller_of(access), dispute_id, party_id)

    @router.post("/{dispute_id}/parties/{party_id}/refusal", response_model=DisputeOutcome)
    async def refuse(
        dispute_id: UUID,
        party_id: PartyPath,
        access: Annotated[Access, authorize("dispute.consent")],
    ) -> DisputeOutcome:
        return await run_in_threadpool(desk.refuse, caller_of(access), dispute_id, party_id)


def _records(router: APIRouter, desk: MediationDesk) -> None:
    @router.get("/{dispute_id}/sessions/{session}", response_model=SessionRecord)
    async def session_record(
        dispute_id: UUID,
        session: Annotated[int, Path(ge=1, le=10_000)],
        access: Annotated[Access, authorize("dispute.read")],
        reason: Reason = None,
    ) -> SessionRecord:
        """Metadata; the minutes only for `dispute.records` roles giving a reason (logged)."""
        caller = caller_of(access if reason is None else escalated(access, "dispute.records"))
        return await run_in_threadpool(
            lambda: desk.session_record(caller, dispute_id, session, reason=reason)
        )

    @router.get("/{dispute_id}/agreement", response_model=AgreementRecord)
    async def agreement_record(
        dispute_id: UUID,
        access: Annotated[Access, authorize("dispute.read")],
        reason: Reason = None,
    ) -> AgreementRecord:
        """Metadata; the text only for `dispute.records` roles giving a reason (logged)."""
        caller = caller_of(access if reason is None else escalated(access, "dispute.records"))
        return await run_in_threadpool(
            lambda: desk.agreement_record(caller, dispute_id, reason=reason)
        )


def _deadline(router: APIRouter, desk: MediationDesk) -> None:
    @router.post(
        "/{dispute_id}/extension-requests/consents/{party_id}", response_model=DisputeOutcome
    )
    async def consent_to_extension(
        dispute_id: UUID,
        party_id: PartyPath,
        access: Annotated[Access, authorize("dispute.consent")],
    ) -> DisputeOutcome:
        """The deadline moves when the last party consents."""
        return await run_in_threadpool(
            desk.consent_to_extension, caller_of(access), dispute_id, party_id
        )


__all__ = ["ERRORS", "dispute_router"]
