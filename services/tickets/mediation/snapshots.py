"""What the mediation desk answers with: public fields, and sealed records when revealed."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from events.disputes import DeclineReason, DisputeKind, MediatorKind, Referral, SessionMode
from services.tickets.mediation.domain import Dispute, DisputeState


class MediatorView(BaseModel):
    mediator_id: str
    kind: MediatorKind


class SessionView(BaseModel):
    """A session's metadata; its minutes are sealed."""

    session: int
    mode: SessionMode
    held_at: datetime


class ExtensionView(BaseModel):
    """A pending request for a later deadline, and who has consented so far."""

    due_at: datetime
    consents: list[str]
    awaiting: list[str]


class DisputeSnapshot(BaseModel):
    """A dispute as mediators and oversight see it: ids, states and times, never texts."""

    id: UUID
    district: str
    street: str
    community: str
    grid: str | None
    kind: DisputeKind
    state: DisputeState
    parties: list[str]
    consents: list[str]
    awaiting_consent: list[str]
    refused_by: str | None
    mediators: list[MediatorView]
    sessions: list[SessionView]
    agreements: int
    follow_ups: int
    breaches: int
    due_at: datetime | None
    deadline_breached: bool
    extension: ExtensionView | None
    decline_reason: DeclineReason | None
    referral: Referral | None
    filed_at: datetime
    version: int

    @classmethod
    def of(cls, d: Dispute) -> DisputeSnapshot:
        return cls(
            id=d.id, district=d.place.district, street=d.place.street,
            community=d.place.community, grid=d.place.grid, kind=d.kind, state=d.state,
            parties=list(d.parties), consents=list(d.consents),
            awaiting_consent=d.awaiting_consent, refused_by=d.refused_by,
            mediators=[MediatorView(mediator_id=m, kind=k) for m, k in d.mediators],
            sessions=[
                SessionView(session=n, mode=mode, held_at=at)
                for n, (mode, at) in enumerate(d.sessions, start=1)
            ],
            agreements=len(d.agreements), follow_ups=d.follow_ups, breaches=d.breaches,
            due_at=d.due_at, deadline_breached=d.due_at in d.breached_due,
            extension=_extension(d), decline_reason=d.decline_reason, referral=d.referral,
            filed_at=d.filed_at, version=d.version,
        )  # fmt: skip


def _extension(d: Dispute) -> ExtensionView | None:
    if d.extension_due is None:
        return None
    awaiting = [p for p in d.parties if p not in d.extension_consents]
    return ExtensionView(
        due_at=d.extension_due, consents=list(d.extension_consents), awaiting=awaiting
    )


class DisputeOutcome(BaseModel):
    dispute: DisputeSnapshot
    position: int = 0
    """The notification id of the last event saved."""


class SessionRecord(BaseModel):
    """A session's metadata; the minutes only when revealed for a logged reason."""

    dispute_id: UUID
    session: int
    mode: SessionMode
    held_at: datetime
    masked: bool
    minutes: str | None = None


class AgreementRecord(BaseModel):
    """The latest agreement's metadata; its text only when revealed for a logged reason."""

    dispute_id: UUID
    agreement: int
    signed_at: datetime
    masked: bool
    text: str | None = None
