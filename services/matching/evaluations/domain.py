"""A unit's evaluation for one period: five indicators scored with evidence, appealed by the
unit, closed with its total.

Public methods decide and raise; the `@event` methods only record, and run again on replay.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from events.evaluations import INDICATOR_POINTS, Evidence, Indicator
from services.runtime.aggregates import Stored
from services.runtime.place import Place, Stamp

_NAMESPACE = uuid5(NAMESPACE_URL, "https://shiliu.invalid/evaluations")


def evaluation_key(unit_id: str, period: str) -> UUID:
    """One evaluation per unit and period."""
    return uuid5(_NAMESPACE, f"{unit_id}:{period}")


class EvaluationState(StrEnum):
    OPEN = "open"
    APPEALED = "appealed"
    CLOSED = "closed"


class EvaluationError(Exception):
    code = "evaluation.error"


class EvaluationNotFoundError(EvaluationError):
    code = "evaluation.not_found"

    def __init__(self, unit_id: str, period: str) -> None:
        super().__init__(f"no evaluation of {unit_id} for {period}")


class EvaluationExistsError(EvaluationError):
    code = "evaluation.already_open"

    def __init__(self, unit_id: str, period: str) -> None:
        super().__init__(f"{unit_id} already has an evaluation for {period}")


class EvaluationTransitionError(EvaluationError):
    code = "evaluation.illegal_transition"

    def __init__(self, action: str, state: EvaluationState) -> None:
        super().__init__(f"cannot {action} an evaluation that is {state.value}")


class IncompleteEvaluationError(EvaluationError):
    code = "evaluation.incomplete"

    def __init__(self, missing: list[Indicator]) -> None:
        super().__init__(f"not scored yet: {', '.join(i.value for i in missing)}")
        self.field = "scores"


class Evaluation(Aggregate):
    """The evaluation of one unit for one period."""

    state = Stored(EvaluationState)

    @staticmethod
    def create_id(unit_id: str, period: str) -> UUID:
        return evaluation_key(unit_id, period)

    @event("Opened")
    def __init__(self, *, unit_id: str, period: str, stamp: Stamp) -> None:
        self.unit_id = unit_id
        self.period = period
        self.place: Place = stamp.place
        self.state = EvaluationState.OPEN
        self.scores: dict[str, int] = {}
        self.evidence: dict[str, tuple[Evidence, ...]] = {}
        self.total: int | None = None

    def score(self, indicator: Indicator, points: int, evidence: tuple[Evidence, ...],
              stamp: Stamp) -> None:  # fmt: skip
        if self.state is EvaluationState.CLOSED:
            raise EvaluationTransitionError("score", self.state)
        if not 0 <= points <= INDICATOR_POINTS:
            raise ValueError(points)
        self._scored(unit_id=self.unit_id, period=self.period, indicator=indicator.value,
                     points=points, evidence=evidence, stamp=stamp)  # fmt: skip

    def appeal(self, grounds: str, stamp: Stamp) -> None:
        if self.state is not EvaluationState.OPEN or not self.scores:
            raise EvaluationTransitionError("appeal", self.state)
        self._appealed(unit_id=self.unit_id, period=self.period, grounds=grounds, stamp=stamp)

    def close(self, stamp: Stamp) -> None:
        if self.state is EvaluationState.CLOSED:
            raise EvaluationTransitionError("close", self.state)
        missing = [i for i in Indicator if i.value not in self.scores]
        if missing:
            raise IncompleteEvaluationError(missing)
        total = sum(self.scores.values())
        self._closed(unit_id=self.unit_id, period=self.period, scores=dict(self.scores),
                     total=total, stamp=stamp)  # fmt: skip

    @event("Scored")
    def _scored(self, unit_id: str, period: str, indicator: str, points: int,
                evidence: tuple[Evidence, ...], stamp: Stamp) -> None:  # fmt: skip
        self.scores = {**self.scores, indicator: points}
        self.evidence = {**self.evidence, indicator: tuple(evidence)}

    @event("Appealed")
    def _appealed(self, unit_id: str, period: str, grounds: str, stamp: Stamp) -> None:
        self.state = EvaluationState.APPEALED

    @event("Closed")
    def _closed(self, unit_id: str, period: str, scores: dict[str, int], total: int,
                stamp: Stamp) -> None:  # fmt: skip
        self.state = EvaluationState.CLOSED
        self.total = total
