"""The evaluation commands on the matching store, and the evidence the bus already holds for a
unit's period (its delivered, confirmed and rated matches)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from pydantic import BaseModel

from events.evaluations import Evidence, Indicator
from services.matching.evaluations.domain import (
    Evaluation,
    EvaluationExistsError,
    EvaluationNotFoundError,
    EvaluationState,
    evaluation_key,
)
from services.matching.registry.domain import Unit, UnitNotFoundError, unit_key
from services.runtime.commands import Caller
from services.runtime.place import Stamp
from services.runtime.stamping import StampedCommands


class EvaluationSnapshot(BaseModel):
    evaluation_id: UUID
    unit_id: str
    period: str
    district: str
    street: str
    community: str
    state: EvaluationState
    scores: dict[Indicator, int]
    evidence: dict[Indicator, list[Evidence]]
    total: int | None
    version: int

    @classmethod
    def of(cls, evaluation: Evaluation) -> EvaluationSnapshot:
        place = evaluation.place
        return cls(
            evaluation_id=evaluation.id, unit_id=evaluation.unit_id, period=evaluation.period,
            district=place.district, street=place.street, community=place.community,
            state=evaluation.state,
            scores={Indicator(k): v for k, v in evaluation.scores.items()},
            evidence={Indicator(k): list(v) for k, v in evaluation.evidence.items()},
            total=evaluation.total, version=evaluation.version,
        )  # fmt: skip


class EvaluationOutcome(BaseModel):
    evaluation: EvaluationSnapshot
    position: int = 0


class Evaluations:
    """Opens, scores, takes appeals on and closes units' evaluations."""

    def __init__(self, commands: StampedCommands) -> None:
        self.commands = commands

    def open(self, caller: Caller, unit_id: str, period: str) -> EvaluationOutcome:
        def decide() -> tuple[list[Aggregate], EvaluationOutcome]:
            unit = self.commands.load(unit_key(unit_id), Unit, lambda _: UnitNotFoundError(unit_id))
            if self._exists(evaluation_key(unit_id, period)):
                raise EvaluationExistsError(unit_id, period)
            stamp = self.commands.stamp(caller, unit.place, None)
            evaluation = Evaluation(unit_id=unit_id, period=period, stamp=stamp)
            return [evaluation], EvaluationOutcome(evaluation=EvaluationSnapshot.of(evaluation))

        payload = {"unit_id": unit_id, "period": period}
        return self.commands.run(caller, "open_evaluation", payload, decide, EvaluationOutcome,
                                 lock=evaluation_key(unit_id, period))  # fmt: skip

    def score(
        self, caller: Caller, unit_id: str, period: str, indicator: Indicator, points: int,
        evidence: tuple[Evidence, ...],
    ) -> EvaluationOutcome:  # fmt: skip
        payload = {"indicator": indicator, "points": points,
                   "evidence": [e.model_dump(mode="json") for e in evidence]}  # fmt: skip
        return self._change(caller, unit_id, period, "score_indicator", payload,
                            lambda e, s: e.score(indicator, points, evidence, s))  # fmt: skip

    def appeal(self, caller: Caller, unit_id: str, period: str, grounds: str) -> EvaluationOutcome:
        return self._change(caller, unit_id, period, "appeal_evaluation", {"grounds": grounds},
                            lambda e, s: e.appeal(grounds, s))  # fmt: skip

    def close(self, caller: Caller, unit_id: str, period: str) -> EvaluationOutcome:
        return self._change(caller, unit_id, period, "close_evaluation", {},
                            lambda e, s: e.close(s))  # fmt: skip

    def get(self, unit_id: str, period: str) -> EvaluationSnapshot:
        return EvaluationSnapshot.of(self._load(unit_id, period))

    def _exists(self, evaluation_id: UUID) -> bool:
        try:
            self.commands.app.repository.get(evaluation_id)
        except AggregateNotFoundError:
            return False
        return True

    def _load(self, unit_id: str, period: str) -> Evaluation:
        return self.commands.load(evaluation_key(unit_id, period), Evaluation,
                                  lambda _: EvaluationNotFoundError(unit_id, period))  # fmt: skip

    def _change(
        self, caller: Caller, unit_id: str, period: str, command: str, payload: dict[str, Any],
        decide: Callable[[Evaluation, Stamp], None],
    ) -> EvaluationOutcome:  # fmt: skip
        def attempt() -> tuple[list[Aggregate], EvaluationOutcome]:
            evaluation = self._load(unit_id, period)
            decide(evaluation, self.commands.stamp(caller, evaluation.place, None))
            return [evaluation], EvaluationOutcome(evaluation=EvaluationSnapshot.of(evaluation))

        payload = {"unit_id": unit_id, "period": period, **payload}
        return self.commands.run(caller, command, payload, attempt, EvaluationOutcome,
                                 lock=evaluation_key(unit_id, period))  # fmt: skip
