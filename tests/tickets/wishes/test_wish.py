"""The wish aggregate's decisions, without any infrastructure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.wishes import (
    ClaimMode,
    RefusalReason,
    ReleaseReason,
    WishCategory,
    WithdrawalReason,
)
from services.runtime.place import Place, Stamp
from services.tickets.wishes.domain import (
    IllegalTransitionError,
    InvalidWishError,
    NotAClaimantError,
    NotYetDueError,
    Wish,
    WishState,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PLACE = Place("jinfeng", "s01", "c01", "g01")


def stamp(at: datetime = NOW, actor: str = "staff-1") -> Stamp:
    return Stamp(place=PLACE, actor_id=actor, actor_role="community_staff", occurred_at=at)


def open_wish(mode: ClaimMode = ClaimMode.EXCLUSIVE, quota: int = 1, **kw: object) -> Wish:
    wish = Wish.post(
        stamp=stamp(), resident_id="p1", title="帮忙收拾一下家里", category=WishCategory.HOUSEWORK,
        claim_mode=mode, quota=quota, expires_at=kw.get("expires_at"),  # type: ignore[arg-type]
    )  # fmt: skip
    wish.verify(stamp())
    return wish


def test_a_posted_wish_awaits_verification_before_it_opens() -> None:
    wish = Wish.post(
        stamp=stamp(), resident_id="p1", title="为晚归的人点亮夜路", category=WishCategory.LIGHTING,
        claim_mode=ClaimMode.EXCLUSIVE, quota=1, expires_at=None,
    )  # fmt: skip
    assert wish.state is WishState.SUBMITTED
    with pytest.raises(IllegalTransitionError):
        wish.claim("unit-a", stamp())
    wish.verify(stamp())
    assert wish.state is WishState.OPEN  # type: ignore[comparison-overlap]  # verify() moved it


def test_an_exclusive_wish_must_have_a_quota_of_one() -> None:
    with pytest.raises(InvalidWishError) as error:
        Wish.post(
            stamp=stamp(), resident_id="p1", title="x", category=WishCategory.MEAL,
            claim_mode=ClaimMode.EXCLUSIVE, quota=2, expires_at=None,
        )  # fmt: skip
    assert error.value.field == "quota"


def test_second_claim_on_an_exclusive_wish_is_refused_and_recorded() -> None:
    wish = open_wish()
    assert wish.claim("unit-a", stamp()) is None
    assert wish.claim("unit-b", stamp()) is RefusalReason.ALREADY_CLAIMED
    assert wish.claimants == ["unit-a"]
    assert wish.refusals == 1
    assert [type(e).__name__ for e in wish.collect_events()][-1] == "ClaimRefused"


def test_a_joint_wish_takes_claims_up_to_its_quota_then_refuses() -> None:
    wish = open_wish(ClaimMode.JOINT, quota=3)
    for unit in ("u1", "u2", "u3"):
        assert wish.claim(unit, stamp()) is None
    assert wish.claim("u4", stamp()) is RefusalReason.QUOTA_FULL
    assert wish.claimants == ["u1", "u2", "u3"]


def test_claiming_again_by_the_same_unit_changes_nothing() -> None:
    wish = open_wish()
    wish.claim("unit-a", stamp())
    version = wish.version
    assert wish.claim("unit-a", stamp()) is None
    assert wish.version == version


def test_releasing_the_last_claim_reopens_the_wish() -> None:
    wish = open_wish()
    wish.claim("unit-a", stamp())
    with pytest.raises(NotAClaimantError):
        wish.release_claim("unit-b", ReleaseReason.OTHER, stamp())
    wish.release_claim("unit-a", ReleaseReason.CANNOT_DELIVER, stamp())
    assert wish.state is WishState.OPEN
    assert wish.claimants == []


def test_only_a_claimant_reports_fulfilment_and_the_resident_closes_with_a_rating() -> None:
    wish = open_wish()
    wish.claim("unit-a", stamp())
    with pytest.raises(NotAClaimantError):
        wish.report_fulfilment("unit-b", stamp())
    wish.report_fulfilment("unit-a", stamp())
    with pytest.raises(IllegalTransitionError):
        wish.acknowledge(5, stamp())
    wish.verify_fulfilment(stamp())
    with pytest.raises(InvalidWishError):
        wish.acknowledge(6, stamp())
    wish.acknowledge(4, stamp())
    assert (wish.state, wish.rating) == (WishState.CLOSED, 4)


def test_acknowledging_an_unclaimed_wish_is_an_illegal_transition_naming_the_state() -> None:
    wish = open_wish()
    with pytest.raises(IllegalTransitionError) as error:
        wish.acknowledge(None, stamp())
    assert error.value.state is WishState.OPEN


def test_a_wish_expires_only_once_its_expiry_has_passed() -> None:
    wish = open_wish(expires_at=NOW + timedelta(days=7))
    with pytest.raises(NotYetDueError):
        wish.expire(stamp(NOW + timedelta(days=6)))
    wish.expire(stamp(NOW + timedelta(days=7)))
    assert wish.state is WishState.EXPIRED


def test_a_withdrawn_wish_cannot_be_claimed() -> None:
    wish = open_wish()
    wish.withdraw(WithdrawalReason.SOLVED_ELSEWHERE, stamp())
    with pytest.raises(IllegalTransitionError):
        wish.claim("unit-a", stamp())
