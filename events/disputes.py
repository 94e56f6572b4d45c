"""Dispute (矛盾纠纷) mediation events, published by the tickets service.

Minutes, agreements and what the parties said are personal data: they stay sealed in the
tickets store. Only ids, kinds, counts and times travel here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from events.envelope import Count, IntegrationEvent


class DisputeKind(StrEnum):
    NEIGHBOUR = "neighbour"
    FAMILY = "family"
    BOUNDARY = "boundary"
    PROPERTY_MANAGEMENT = "property_management"
    LABOUR = "labour"
    OTHER = "other"


class MediatorKind(StrEnum):
    TEAM_MEMBER = "team_member"
    LAWYER = "lawyer"
    RETIRED_JUDGE = "retired_judge"


class DeclineReason(StrEnum):
    NOT_MEDIABLE = "not_mediable"
    IN_COURT = "in_court"
    OUT_OF_SCOPE = "out_of_scope"
    OTHER = "other"


class SessionMode(StrEnum):
    IN_PERSON = "in_person"
    VIDEO = "video"


class Referral(StrEnum):
    COURT = "court"
    ARBITRATION = "arbitration"
    LEGAL_AID = "legal_aid"


class DisputeEvent(IntegrationEvent):
    service: ClassVar[str] = "tickets"
    dispute_id: UUID

    @property
    def aggregate_id(self) -> UUID:
        return self.dispute_id


class DisputeFiled(DisputeEvent):
    """A dispute between two or more parties was filed for mediation."""

    subject_suffix: ClassVar[str] = "dispute.filed"
    type: Literal["DisputeFiled"] = "DisputeFiled"
    kind: DisputeKind
    parties: Annotated[list[str], Field(min_length=2)]


class DisputeAccepted(DisputeEvent):
    """The mediation committee took the case; it must end by `due_at` (one month)."""

    subject_suffix: ClassVar[str] = "dispute.accepted"
    type: Literal["DisputeAccepted"] = "DisputeAccepted"
    due_at: AwareDatetime


class DisputeDeclined(DisputeEvent):
    """The mediation committee declined the case."""

    subject_suffix: ClassVar[str] = "dispute.declined"
    type: Literal["DisputeDeclined"] = "DisputeDeclined"
    reason: DeclineReason


class MediatorAssigned(DisputeEvent):
    """A mediator (team member, lawyer in the grid, retired judge) joined the case."""

    subject_suffix: ClassVar[str] = "dispute.mediator_assigned"
    type: Literal["MediatorAssigned"] = "MediatorAssigned"
    mediator_id: str
    mediator_kind: MediatorKind


class PartyConsented(DisputeEvent):
    """A party agreed to mediation."""

    subject_suffix: ClassVar[str] = "dispute.party_consented"
    type: Literal["PartyConsented"] = "PartyConsented"
    party_id: str


class PartyRefused(DisputeEvent):
    """A party refused mediation; the case cannot be mediated."""

    subject_suffix: ClassVar[str] = "dispute.party_refused"
    type: Literal["PartyRefused"] = "PartyRefused"
    party_id: str


class MediationSessionHeld(DisputeEvent):
    """A mediation session took place, in person or by video; its minutes stay sealed."""

    subject_suffix: ClassVar[str] = "dispute.session_held"
    type: Literal["MediationSessionHeld"] = "MediationSessionHeld"
    session: Count
    mode: SessionMode


class AgreementSigned(DisputeEvent):
    """The parties signed a mediation agreement (调解协议); its text stays sealed."""

    subject_suffix: ClassVar[str] = "dispute.agreement_signed"
    type: Literal["AgreementSigned"] = "AgreementSigned"


class DisputeReferred(DisputeEvent):
    """Mediation could not settle it; the case was referred to court, arbitration or legal aid."""

    subject_suffix: ClassVar[str] = "dispute.referred"
    type: Literal["DisputeReferred"] = "DisputeReferred"
    to: Referral


class FollowUpVisited(DisputeEvent):
    """A follow-up visit checked whether the agreement holds."""

    subject_suffix: ClassVar[str] = "dispute.follow_up_visited"
    type: Literal["FollowUpVisited"] = "FollowUpVisited"
    holding: bool


class AgreementBreached(DisputeEvent):
    """The agreement was breached; mediation is open again with a new deadline."""

    subject_suffix: ClassVar[str] = "dispute.agreement_breached"
    type: Literal["AgreementBreached"] = "AgreementBreached"
    due_at: AwareDatetime


class DisputeDeadlineExtended(DisputeEvent):
    """Every party consented to more time; the deadline moved."""

    subject_suffix: ClassVar[str] = "dispute.deadline_extended"
    type: Literal["DisputeDeadlineExtended"] = "DisputeDeadlineExtended"
    due_at: AwareDatetime


class DisputeDeadlineBreached(DisputeEvent):
    """The mediation deadline passed with the case still open."""

    subject_suffix: ClassVar[str] = "dispute.deadline_breached"
    type: Literal["DisputeDeadlineBreached"] = "DisputeDeadlineBreached"
    due_at: AwareDatetime


class DisputeResolved(DisputeEvent):
    """The dispute is settled: agreement signed and holding at follow-up."""

    subject_suffix: ClassVar[str] = "dispute.resolved"
    type: Literal["DisputeResolved"] = "DisputeResolved"
    sessions: Count
    breaches: Count


DISPUTE_EVENTS: tuple[type[DisputeEvent], ...] = (
    DisputeFiled,
    DisputeAccepted,
    DisputeDeclined,
    MediatorAssigned,
    PartyConsented,
    PartyRefused,
    MediationSessionHeld,
    AgreementSigned,
    DisputeReferred,
    FollowUpVisited,
    AgreementBreached,
    DisputeDeadlineExtended,
    DisputeDeadlineBreached,
    DisputeResolved,
)

AnyDisputeEvent = Annotated[
    DisputeFiled
    | DisputeAccepted
    | DisputeDeclined
    | MediatorAssigned
    | PartyConsented
    | PartyRefused
    | MediationSessionHeld
    | AgreementSigned
    | DisputeReferred
    | FollowUpVisited
    | AgreementBreached
    | DisputeDeadlineExtended
    | DisputeDeadlineBreached
    | DisputeResolved,
    Field(discriminator="type"),
]
