"""The scoring, alone: which offers can serve a need, and in which order, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from events.listings import Availability, DateRange, Reach, WeeklyWindow
from events.matches import NeedKind
from events.taxonomy import ServiceCategory
from services.matching.matches.scoring import Candidate, Need, UnitRecord, rank, score
from services.runtime.place import Place

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)  # a Saturday
ANY_TIME = Availability()
HOME = Place("jinfeng", "s01", "c01", "g01")
NEED = Need(NeedKind.WISH, uuid4(), HOME, (ServiceCategory.MEALS, ServiceCategory.VOLUNTEERS),
            NOW, proposals=5)  # fmt: skip


def _offer(
    *, place: Place = HOME, category: ServiceCategory = ServiceCategory.MEALS,
    reach: Reach = Reach.DISTRICT, remaining: int | None = None,
    availability: Availability = ANY_TIME, record: UnitRecord | None = None,
    unit_id: str | None = "unit-x",
) -> Candidate:  # fmt: skip
    return Candidate(uuid4(), unit_id, place, category, reach, remaining, availability,
                     record or UnitRecord(last_helped_at=NOW - timedelta(days=1)))  # fmt: skip


def _codes(candidate: Candidate) -> dict[str, float]:
    ranked = score(NEED, candidate)
    assert ranked is not None
    return {reason.code: reason.points for reason in ranked.reasons}


def test_nearer_offers_rank_higher_same_grid_then_community_then_street_then_district() -> None:
    grid = _offer()
    community = _offer(place=Place("jinfeng", "s01", "c01", "g02"))
    street = _offer(place=Place("jinfeng", "s01", "c09", None))
    district = _offer(place=Place("jinfeng", "s05", "c40", None))
    ranked = rank(NEED, [district, street, community, grid])
    assert [r.candidate for r in ranked] == [grid, community, street, district]
    assert [r.reasons[1].en for r in ranked] == [
        "in the same grid",
        "in the same community",
        "in the same street",
        "in the same district",
    ]


def test_an_offer_never_reaches_beyond_its_reach_or_its_district() -> None:
    elsewhere = Place("jinfeng", "s01", "c02", None)
    assert score(NEED, _offer(place=elsewhere, reach=Reach.COMMUNITY)) is None
    assert score(NEED, _offer(place=elsewhere, reach=Reach.STREET)) is not None
    assert score(NEED, _offer(place=Place("other", "s01", "c01", "g01"))) is None


def test_the_best_fitting_category_scores_more_and_an_unrelated_one_is_left_out() -> None:
    assert (
        _codes(_offer())["category_fit"]
        > _codes(_offer(category=ServiceCategory.VOLUNTEERS))["category_fit"]
    )
    assert score(NEED, _offer(category=ServiceCategory.PARKING)) is None


def test_a_full_offer_or_one_closed_for_a_week_is_left_out_and_one_open_later_scores_less() -> None:
    assert score(NEED, _offer(remaining=0)) is None
    sunday = Availability(weekly=(WeeklyWindow(weekday=7, opens="09:00", closes="17:00"),))
    assert _codes(_offer(availability=sunday))["availability"] < _codes(_offer())["availability"]
    never = Availability(dates=())
    assert score(NEED, _offer(availability=never)) is not None
    past = Availability(dates=(DateRange(starts_on="2026-01-01", ends_on="2026-01-31"),))
    assert score(NEED, _offer(availability=past)) is None


def test_a_unit_that_has_not_helped_lately_ranks_above_one_that_just_did() -> None:
    rested = _offer(record=UnitRecord(last_helped_at=NOW - timedelta(days=40)))
    busy = _offer(record=UnitRecord(last_helped_at=NOW - timedelta(hours=2)))
    newcomer = _offer(record=UnitRecord())
    assert [r.candidate for r in rank(NEED, [busy, rested, newcomer])] == [newcomer, rested, busy]


def test_a_unit_hoarding_open_matches_with_few_completed_is_held_back() -> None:
    hoarder = _offer(record=UnitRecord(open_matches=8, agreed=10, delivered=2,
                                       last_helped_at=NOW - timedelta(days=60)))  # fmt: skip
    steady = _offer(record=UnitRecord(open_matches=8, agreed=10, delivered=9,
                                      last_helped_at=NOW - timedelta(days=1)))  # fmt: skip
    assert _codes(hoarder)["fairness"] == -20
    assert [r.candidate for r in rank(NEED, [hoarder, steady])] == [steady, hoarder]


def test_ratings_and_the_evaluation_score_move_a_unit_up_or_down_with_reasons_in_both_languages(
) -> None:  # fmt: skip
    liked = _offer(record=UnitRecord(ratings=4, rating_total=20, evaluation=92,
                                     last_helped_at=NOW - timedelta(days=1)))  # fmt: skip
    disliked = _offer(record=UnitRecord(ratings=4, rating_total=6, evaluation=40,
                                        last_helped_at=NOW - timedelta(days=1)))  # fmt: skip
    first, second = rank(NEED, [disliked, liked])
    assert (first.candidate, second.candidate) == (liked, disliked)
    by_code = {r.code: r for r in first.reasons}
    assert (by_code["ratings"].zh, by_code["ratings"].en) == (
        "以往评价平均5.0分",
        "rated 5.0 on average",
    )
    assert by_code["evaluation"].en == "evaluation score 92"
    assert 0 <= second.score < first.score <= 100
