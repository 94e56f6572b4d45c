"""Evaluations over HTTP: the street opens a unit's period, scores the five indicators with
evidence and closes it; the unit appeals; everyone entitled reads it, with the evidence the
bus already holds for the period. And a unit's reciprocity balance."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from events.evaluations import PERIOD_PATTERN, Evidence, Indicator, Period, period_dates
from events.units import UNIT_ID_PATTERN
from services.matching.evaluations.application import (
    EvaluationOutcome,
    Evaluations,
    EvaluationSnapshot,
)
from services.matching.evaluations.domain import (
    EvaluationExistsError,
    EvaluationNotFoundError,
    EvaluationTransitionError,
    IncompleteEvaluationError,
)
from services.matching.lists.domain import LOCAL_TIME
from services.matching.matches.records import Balance, MatchRecords
from services.matching.matches.view import MatchEntry
from services.matching.registry.application import UnitRegistry
from services.runtime.access import caller_of, within
from services.runtime.http import Details, field_details, no_details
from services.runtime.identity import Access, authorize
from services.runtime.instants import utc_iso
from services.runtime.place import Place
from services.runtime.text import Body, refusal

UnitInPath = Annotated[str, Path(pattern=UNIT_ID_PATTERN)]
PeriodInPath = Annotated[str, Path(pattern=PERIOD_PATTERN)]
ERRORS: dict[type[Exception], tuple[int, Details]] = {
    EvaluationNotFoundError: (404, no_details),
    EvaluationExistsError: (409, no_details),
    EvaluationTransitionError: (409, no_details),
    IncompleteEvaluationError: (422, field_details),
}


class Opening(Body):
    period: Period


class Scoring(Body):
    indicator: Indicator
    points: Annotated[int, Field(ge=0, le=20)]
    evidence: Annotated[list[Evidence], Field(default_factory=list, max_length=50)]

    @field_validator("evidence", mode="after")
    @classmethod
    def _evidence_holds_no_control_characters(cls, evidence: list[Evidence]) -> list[Evidence]:
        for i, item in enumerate(evidence):
            for name, prose in (("reference", False), ("note", True)):
                if (problem := refusal(getattr(item, name), prose=prose)) is not None:
                    raise PydanticCustomError("control_character", f"{i}.{name}: {problem}")
        return evidence


class Appeal(Body):
    prose = frozenset({"grounds"})
    grounds: Annotated[str, Field(min_length=4, max_length=500)]


def evaluation_router(
    evaluations: Evaluations, registry: UnitRegistry, records: MatchRecords
) -> APIRouter:
    router = APIRouter(prefix="/units/{unit_id}", tags=["evaluations"])

    @router.post("/evaluations", status_code=201, response_model=EvaluationOutcome)
    async def open_evaluation(
        unit_id: UnitInPath, body: Opening, access: Annotated[Access, authorize("evaluation.run")]
    ) -> EvaluationOutcome:
        return await run_in_threadpool(evaluations.open, caller_of(access), unit_id, body.period)

    @router.get("/evaluations/{period}", response_model=EvaluationSnapshot)
    async def get_evaluation(
        unit_id: UnitInPath, period: PeriodInPath,
        access: Annotated[Access, authorize("evaluation.read")],
    ) -> EvaluationSnapshot:  # fmt: skip
        access.check_unit(unit_id)
        found = await run_in_threadpool(evaluations.get, unit_id, period)
        within(access, _place(found))
        return found

    @router.get("/evaluations/{period}/evidence", response_model=list[MatchEntry])
    async def evaluation_evidence(
        unit_id: UnitInPath, period: PeriodInPath,
        access: Annotated[Access, authorize("evaluation.read")],
    ) -> list[MatchEntry]:  # fmt: skip
        """The unit's matches delivered in the period: evidence for co-building and
        public-welfare service, each a match on the bus."""
        access.check_unit(unit_id)
        within(access, _place(await run_in_threadpool(evaluations.get, unit_id, period)))
        first, last = period_dates(period)  # the community's calendar days, in its own time
        starts = datetime.combine(first, time(), LOCAL_TIME)
        ends = datetime.combine(last + timedelta(days=1), time(), LOCAL_TIME)
        return await run_in_threadpool(
            records.delivered_by, unit_id, utc_iso(starts), utc_iso(ends)
        )

    @router.post("/evaluations/{period}/scores", response_model=EvaluationOutcome)
    async def score_indicator(
        unit_id: UnitInPath, period: PeriodInPath, body: Scoring,
        access: Annotated[Access, authorize("evaluation.run")],
    ) -> EvaluationOutcome:  # fmt: skip
        evidence = tuple(body.evidence)
        return await run_in_threadpool(
            evaluations.score, caller_of(access), unit_id, period, body.indicator, body.points,
            evidence,
        )  # fmt: skip

    @router.post("/evaluations/{period}/appeal", response_model=EvaluationOutcome)
    async def appeal_evaluation(
        unit_id: UnitInPath, period: PeriodInPath, body: Appeal,
        access: Annotated[Access, authorize("evaluation.appeal")],
    ) -> EvaluationOutcome:  # fmt: skip
        access.check_unit(unit_id)
        return await run_in_threadpool(
            evaluations.appeal, caller_of(access), unit_id, period, body.grounds
        )

    @router.post("/evaluations/{period}/closure", response_model=EvaluationOutcome)
    async def close_evaluation(
        unit_id: UnitInPath, period: PeriodInPath,
        access: Annotated[Access, authorize("evaluation.run")],
    ) -> EvaluationOutcome:  # fmt: skip
        return await run_in_threadpool(evaluations.close, caller_of(access), unit_id, period)

    @router.get("/balance", response_model=Balance)
    async def unit_balance(
        unit_id: UnitInPath, _: Annotated[Access, authorize("unit.read")]
    ) -> Balance:
        """What the unit gave the community and received from it (双向服务)."""
        await run_in_threadpool(registry.get, unit_id)  # 404 for a unit nobody registered
        return await run_in_threadpool(records.balance, unit_id)

    return router


def _place(evaluation: EvaluationSnapshot) -> Place:
    return Place(evaluation.district, evaluation.street, evaluation.community, None)
