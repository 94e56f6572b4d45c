"""How matching ranks offers for a need: a score out of 100 from parts a person can read, in
Chinese and English. Pure: the candidates and the units' records come from the view.

- category fit: the offer's category is the need's best fit, or another that can serve it;
- distance in the territory tree: same grid > same community > same street > same district,
  and never beyond the offer's reach;
- capacity and availability at the time needed (an offer full or closed then is left out;
  one open within a week scores less);
- the unit's past ratings and its closed evaluation score;
- fairness: a unit that has not helped lately ranks higher; one holding many open proposals
  and agreed matches while completing few is held back, as mutual-aid platforms gate hoarding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from events.listings import Availability, Reach
from events.matches import NeedKind, Reason
from events.taxonomy import ServiceCategory
from services.matching.lists.domain import is_available, opens_within
from services.runtime.place import Place

SOON = timedelta(days=7)
HOARDING_OPEN = 5
"""Open proposals plus agreed, undelivered matches from which a unit's completions count."""
HOARDING_RATIO = 0.5


@dataclass(frozen=True)
class Need:
    kind: NeedKind
    need_id: UUID
    place: Place
    categories: tuple[ServiceCategory, ...]
    """What can serve it, best fit first."""
    wanted_at: datetime
    proposals: int = 3
    """How many offers to propose."""


@dataclass(frozen=True)
class UnitRecord:
    """What matching knows of how a unit has done (none for the community's own offers)."""

    open_matches: int = 0
    """Open proposals, and agreed matches not delivered yet."""
    agreed: int = 0
    delivered: int = 0
    ratings: int = 0
    rating_total: int = 0
    evaluation: float | None = None
    """The closed evaluation's score out of 100."""
    last_helped_at: datetime | None = None


@dataclass(frozen=True)
class Candidate:
    listing_id: UUID
    unit_id: str | None
    place: Place
    category: ServiceCategory
    reach: Reach
    remaining: int | None
    """Capacity left; None is unlimited."""
    availability: Availability
    record: UnitRecord


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    score: float
    reasons: tuple[Reason, ...]


def rank(need: Need, candidates: Sequence[Candidate], *, every: bool = False) -> list[Ranked]:
    """The candidates that can serve the need, best first (ties by listing id, stable): as
    many as the need wants proposals, or `every` one."""
    ranked = [r for c in candidates if (r := score(need, c)) is not None]
    ranked.sort(key=lambda r: (-r.score, str(r.candidate.listing_id)))
    return ranked if every else ranked[: need.proposals]


def score(need: Need, candidate: Candidate) -> Ranked | None:
    """The candidate's score and reasons, or None when it cannot serve the need at all."""
    parts = [
        _category(need, candidate),
        _distance(need.place, candidate),
        _timing(need, candidate),
    ]
    if any(part is None for part in parts):
        return None
    reasons = [p for p in parts if p is not None]
    record = candidate.record
    if candidate.unit_id is not None:
        reasons += [_ratings(record), _evaluation(record), _fairness(record, need.wanted_at)]
    total = max(0.0, min(100.0, sum(r.points for r in reasons)))
    return Ranked(candidate, round(total, 2), tuple(reasons))


def _category(need: Need, candidate: Candidate) -> Reason | None:
    if candidate.category not in need.categories:
        return None
    if need.categories.index(candidate.category) == 0:
        return Reason(code="category_fit", points=30, zh="类别完全对口", en="best-fitting category")
    return Reason(code="category_fit", points=20, zh="类别可以满足", en="a category that can serve")


def _distance(place: Place, candidate: Candidate) -> Reason | None:
    offer = candidate.place
    if offer.district != place.district:
        return None
    same_street = offer.street == place.street
    same_community = same_street and offer.community == place.community
    same_grid = same_community and place.grid is not None and offer.grid == place.grid
    reach = candidate.reach
    if (reach is Reach.GRID and not same_grid and offer.grid is not None) or (
        reach in (Reach.GRID, Reach.COMMUNITY) and not same_community
    ):
        return None
    if reach is Reach.STREET and not same_street:
        return None
    if same_grid:
        return Reason(code="distance", points=25, zh="同一网格", en="in the same grid")
    if same_community:
        return Reason(code="distance", points=18, zh="同一社区", en="in the same community")
    if same_street:
        return Reason(code="distance", points=10, zh="同一街道", en="in the same street")
    return Reason(code="distance", points=4, zh="同一城区", en="in the same district")


def _timing(need: Need, candidate: Candidate) -> Reason | None:
    if candidate.remaining is not None and candidate.remaining <= 0:
        return None
    if is_available(candidate.availability, need.wanted_at):
        return Reason(code="availability", points=15, zh="需要时有空余", en="free when needed")
    if opens_within(candidate.availability, need.wanted_at, SOON.days):
        return Reason(code="availability", points=5, zh="一周内有空余", en="free within a week")
    return None


def _ratings(record: UnitRecord) -> Reason:
    if record.ratings == 0:
        return Reason(code="ratings", points=0, zh="尚无评价", en="not rated yet")
    average = record.rating_total / record.ratings
    points = round((average - 3) * 5, 2)
    return Reason(code="ratings", points=points, zh=f"以往评价平均{average:.1f}分",
                  en=f"rated {average:.1f} on average")  # fmt: skip


def _evaluation(record: UnitRecord) -> Reason:
    if record.evaluation is None:
        return Reason(code="evaluation", points=5, zh="尚无考评结果", en="not evaluated yet")
    points = round(record.evaluation / 10, 2)
    return Reason(code="evaluation", points=points, zh=f"红墙同心考评{record.evaluation:.0f}分",
                  en=f"evaluation score {record.evaluation:.0f}")  # fmt: skip


def _fairness(record: UnitRecord, now: datetime) -> Reason:
    completed = record.delivered / record.agreed if record.agreed else 1.0
    if record.open_matches >= HOARDING_OPEN and completed < HOARDING_RATIO:
        return Reason(code="fairness", points=-20, zh="手中未完成的匹配较多、完成率低",
                      en="holds many open matches and completes few")  # fmt: skip
    if record.last_helped_at is None:
        return Reason(code="fairness", points=10, zh="尚未参与过服务，优先安排",
                      en="has not helped yet: given a turn")  # fmt: skip
    idle = now - record.last_helped_at
    if idle > timedelta(days=30):
        return Reason(code="fairness", points=8, zh="近一个月未参与服务",
                      en="has not helped for a month")  # fmt: skip
    if idle > timedelta(days=7):
        return Reason(code="fairness", points=4, zh="近一周未参与服务",
                      en="has not helped for a week")  # fmt: skip
    return Reason(code="fairness", points=0, zh="近期刚参与过服务", en="helped recently")
