"""Evaluation events, published by the matching service: the street evaluates each member
unit per period on five indicators (红墙同心) — party building, safety and stability,
environment, co-building and sharing, public-welfare service — with evidence; the unit may
appeal; the closed score (`UnitEvaluated`) feeds matching and what the community offers it.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from events.envelope import IntegrationEvent
from events.units import UnitId

PERIOD_PATTERN = r"^20[0-9]{2}-(Q[1-4]|H[12]|Y)$"
Period = Annotated[str, StringConstraints(pattern=PERIOD_PATTERN)]
"""A quarter (`2026-Q4`), a half year (`2026-H2`) or a year (`2026-Y`)."""
INDICATOR_POINTS = 20
"""Each indicator is scored out of 20, so a unit's score is out of 100."""


def period_dates(period: str) -> tuple[date, date]:
    """The first and last day of `2026-Q4`, `2026-H2` or `2026-Y`."""
    year, part = int(period[:4]), period[5:]
    if part == "Y":
        return date(year, 1, 1), date(year, 12, 31)
    months = 3 if part.startswith("Q") else 6
    first = (int(part[1]) - 1) * months + 1
    last = first + months - 1
    end = date(year + 1, 1, 1) if last == 12 else date(year, last + 1, 1)
    return date(year, first, 1), date.fromordinal(end.toordinal() - 1)


class Indicator(StrEnum):
    PARTY_BUILDING = "party_building"
    SAFETY_STABILITY = "safety_stability"
    ENVIRONMENT = "environment"
    CO_BUILDING_SHARING = "co_building_sharing"
    PUBLIC_WELFARE = "public_welfare"


class EvidenceKind(StrEnum):
    EVENT = "event"
    """A fact on the bus: a delivered match, a listing, a fulfilled wish (its event id)."""
    ENTRY = "entry"
    """A staff entry, with its attachment named by reference (a file kept elsewhere)."""


class Evidence(BaseModel):
    """What a score rests on."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: EvidenceKind
    reference: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class EvaluationEvent(IntegrationEvent):
    service: ClassVar[str] = "matching"
    evaluation_id: UUID
    unit_id: UnitId
    period: Period

    @property
    def aggregate_id(self) -> UUID:
        return self.evaluation_id


class EvaluationOpened(EvaluationEvent):
    """An evaluation period opened for the unit."""

    subject_suffix: ClassVar[str] = "evaluation.opened"
    type: Literal["EvaluationOpened"] = "EvaluationOpened"


class IndicatorScored(EvaluationEvent):
    """One indicator was scored (again), with its evidence."""

    subject_suffix: ClassVar[str] = "evaluation.indicator_scored"
    type: Literal["IndicatorScored"] = "IndicatorScored"
    indicator: Indicator
    points: Annotated[int, Field(ge=0, le=INDICATOR_POINTS)]
    evidence: tuple[Evidence, ...] = ()


class EvaluationAppealed(EvaluationEvent):
    """The unit appealed its scores; they may be scored again before the period closes."""

    subject_suffix: ClassVar[str] = "evaluation.appealed"
    type: Literal["EvaluationAppealed"] = "EvaluationAppealed"
    grounds: Annotated[str, StringConstraints(max_length=500)] = ""


class UnitEvaluated(EvaluationEvent):
    """The period closed with these scores; matching ranks the unit by the total from now."""

    subject_suffix: ClassVar[str] = "evaluation.closed"
    type: Literal["UnitEvaluated"] = "UnitEvaluated"
    scores: dict[Indicator, Annotated[int, Field(ge=0, le=INDICATOR_POINTS)]]
    total: Annotated[int, Field(ge=0, le=100)]


EVALUATION_EVENTS: tuple[type[EvaluationEvent], ...] = (
    EvaluationOpened,
    IndicatorScored,
    EvaluationAppealed,
    UnitEvaluated,
)

AnyEvaluationEvent = Annotated[
    EvaluationOpened | IndicatorScored | EvaluationAppealed | UnitEvaluated,
    Field(discriminator="type"),
]
