"""Member-unit (驻区单位) events, published by the matching service's unit registry.

A unit — a school, a company, an elderly-care station — is registered in the community whose
area it lies in, joins that community's alliance (红石榴联盟), may be suspended and reinstated,
or leave; it signs a co-building agreement (共建协议) for a term, renews it, ends it. Contacts
are personal data and never travel here: only the unit's id, name and kind.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from events.envelope import IntegrationEvent

UNIT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
UnitId = Annotated[str, StringConstraints(pattern=UNIT_ID_PATTERN)]
"""The unit's code, chosen at registration and unique in the deployment (`unit-c01-3`)."""
UnitName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
"""Stripped: a name of only spaces is no name."""


class UnitKind(StrEnum):
    COMPANY = "company"
    SCHOOL = "school"
    ELDERLY_CARE_STATION = "elderly_care_station"
    PROPERTY_COMPANY = "property_company"
    SHOP = "shop"
    SOCIAL_ORGANISATION = "social_organisation"
    PUBLIC_INSTITUTION = "public_institution"


class SuspensionReason(StrEnum):
    AGREEMENT_BREACHED = "agreement_breached"
    COMPLAINTS = "complaints"
    INACTIVE = "inactive"
    OTHER = "other"


class DepartureReason(StrEnum):
    MOVED_AWAY = "moved_away"
    CLOSED_DOWN = "closed_down"
    OWN_CHOICE = "own_choice"
    EXPELLED = "expelled"


class AgreementEnd(StrEnum):
    EXPIRED = "expired"
    BY_AGREEMENT = "by_agreement"
    TERMINATED = "terminated"


class UnitEvent(IntegrationEvent):
    service: ClassVar[str] = "matching"
    unit_id: UnitId

    @property
    def aggregate_id(self) -> str:
        return self.unit_id


class UnitRegistered(UnitEvent):
    """A member unit was registered in the community whose area it lies in."""

    subject_suffix: ClassVar[str] = "unit.registered"
    type: Literal["UnitRegistered"] = "UnitRegistered"
    name: UnitName
    kind: UnitKind


class UnitDetailsChanged(UnitEvent):
    """The unit's name or kind was corrected."""

    subject_suffix: ClassVar[str] = "unit.details_changed"
    type: Literal["UnitDetailsChanged"] = "UnitDetailsChanged"
    name: UnitName
    kind: UnitKind


class UnitJoinedAlliance(UnitEvent):
    """The unit joined its community's alliance: it may claim the community's wishes."""

    subject_suffix: ClassVar[str] = "unit.joined_alliance"
    type: Literal["UnitJoinedAlliance"] = "UnitJoinedAlliance"


class UnitSuspended(UnitEvent):
    """The community suspended the unit's alliance membership; it may not claim meanwhile."""

    subject_suffix: ClassVar[str] = "unit.suspended"
    type: Literal["UnitSuspended"] = "UnitSuspended"
    reason: SuspensionReason


class UnitReinstated(UnitEvent):
    """The suspension ended; the unit is an alliance member in good standing again."""

    subject_suffix: ClassVar[str] = "unit.reinstated"
    type: Literal["UnitReinstated"] = "UnitReinstated"


class UnitLeftAlliance(UnitEvent):
    """The unit left the alliance (or was expelled); it may join again later."""

    subject_suffix: ClassVar[str] = "unit.left_alliance"
    type: Literal["UnitLeftAlliance"] = "UnitLeftAlliance"
    reason: DepartureReason


class CoBuildingAgreementSigned(UnitEvent):
    """The unit and the community signed a co-building agreement for a term."""

    subject_suffix: ClassVar[str] = "unit.agreement_signed"
    type: Literal["CoBuildingAgreementSigned"] = "CoBuildingAgreementSigned"
    starts_on: date
    ends_on: date


class CoBuildingAgreementRenewed(UnitEvent):
    """The co-building agreement was renewed until a later date."""

    subject_suffix: ClassVar[str] = "unit.agreement_renewed"
    type: Literal["CoBuildingAgreementRenewed"] = "CoBuildingAgreementRenewed"
    ends_on: date


class CoBuildingAgreementEnded(UnitEvent):
    """The co-building agreement ended (its term ran out, or it was ended early)."""

    subject_suffix: ClassVar[str] = "unit.agreement_ended"
    type: Literal["CoBuildingAgreementEnded"] = "CoBuildingAgreementEnded"
    how: AgreementEnd


UNIT_EVENTS: tuple[type[UnitEvent], ...] = (
    UnitRegistered,
    UnitDetailsChanged,
    UnitJoinedAlliance,
    UnitSuspended,
    UnitReinstated,
    UnitLeftAlliance,
    CoBuildingAgreementSigned,
    CoBuildingAgreementRenewed,
    CoBuildingAgreementEnded,
)

AnyUnitEvent = Annotated[
    UnitRegistered
    | UnitDetailsChanged
    | UnitJoinedAlliance
    | UnitSuspended
    | UnitReinstated
    | UnitLeftAlliance
    | CoBuildingAgreementSigned
    | CoBuildingAgreementRenewed
    | CoBuildingAgreementEnded,
    Field(discriminator="type"),
]
