"""The envelope every integration event carries, and the value types inside it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
"""Territory codes become NATS subject tokens, so they are lower-case slugs."""

Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
"""Declared as a pattern, so the OpenAPI and AsyncAPI schemas carry it too."""

INT64_MAX = 2**63 - 1
"""Every integer on the bus fits a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT)."""

Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""A non-negative integer that every store can hold."""

Ordinal = Annotated[int, Field(ge=1, le=INT64_MAX)]
"""A position or sequence number: from 1, within 64 bits."""


class Role(StrEnum):
    """Who is acting; the authorisation issue refines what each may do."""

    RESIDENT = "resident"
    BUILDING_CHIEF = "building_chief"
    GRID_WORKER = "grid_worker"
    COMMUNITY_STAFF = "community_staff"
    COMMUNITY_SECRETARY = "community_secretary"
    UNIT_STAFF = "unit_staff"
    VOLUNTEER = "volunteer"
    MEDIATOR = "mediator"
    STREET_OFFICIAL = "street_official"
    DISTRICT_OFFICIAL = "district_official"
    AUDITOR = "auditor"
    OPERATOR = "operator"
    SYSTEM = "system"


class Territory(BaseModel):
    """Where a fact belongs: district → street → community → grid."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    district: Code
    street: Code
    community: Code
    grid: Code | None = None


class Actor(BaseModel):
    """Who did it: a person or system id with the role they acted in."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: Annotated[str, Field(min_length=1, max_length=64)]
    role: Role


class IntegrationEvent(BaseModel):
    """A fact one service tells the others; frozen, additive evolution only."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    subject_suffix: ClassVar[str] = ""
    """The subject after `shiliu.<district>.<community>.<service>.`; declared per class."""
    service: ClassVar[str] = ""

    event_id: UUID
    type: str
    version: Annotated[int, Field(ge=1, le=1000)] = 1
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    territory: Territory
    actor: Actor
    on_behalf_of: str | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    source: Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
    """The publishing service's name; with `position`, the event's place in its log."""
    position: Ordinal
    sequence: Ordinal | None = None
    """The event's number in its feed (its source's events of one family), gap-free from 1:
    how a consumer knows it has missed one. Stamped by the source's relay; absent on events a
    service translates for its own views."""

    @classmethod
    def family(cls) -> str:
        """The feed's family: the first token of the subject suffix (`wish`, `ticket`, …)."""
        return cls.subject_suffix.split(".", 1)[0]

    @property
    def aggregate_id(self) -> UUID | str | None:
        """What this event continues the history of (a wish, a ticket…): a consumer settles
        one aggregate's events in their order, so a parked one holds back its successors."""
        return None

    @property
    def feed(self) -> str:
        """`<source>.<family>`, e.g. `tickets.wish`: the unit of gap-free numbering."""
        return f"{self.source}.{self.family()}"
