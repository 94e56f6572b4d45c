"""Wishes past their expiry leave the board as `WishExpired`, exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from events.wishes import ClaimMode, WishCategory
from services.runtime.commands import Caller
from services.runtime.database import Database, eventsourcing_env
from services.runtime.place import Place
from services.runtime.publishing import EventIds
from services.runtime.settings import StoreSettings
from services.tickets.publishing import translator
from services.tickets.wishes.application import WishDesk
from services.tickets.wishes.board import WishBoardView
from services.tickets.wishes.domain import WishState
from services.tickets.wishes.expiry import ExpirySweeper
from services.tickets.wishes.publishing import WISHES
from tests.conftest import demo_store
from tests.support.units import roster_on


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _post(board: WishDesk, expires_in: timedelta | None) -> WishDesk:
    outcome = board.post_wish(
        Caller("resident-1", "resident"), place=Place("jinfeng", "s01", "c01"),
        resident_id="p1", title="测一次血压", category=WishCategory.HEALTH,
        claim_mode=ClaimMode.EXCLUSIVE, quota=1,
        expires_at=board.clock() + expires_in if expires_in else None,
    )  # fmt: skip
    board.verify_wish(Caller("staff-1", "community_staff"), outcome.wish.id)
    return board


@contextlib.contextmanager
def _board_and_view(tmp_path: Path, clock: Clock) -> Iterator[tuple[WishDesk, WishBoardView]]:
    env = eventsourcing_env(StoreSettings(sqlite_path=tmp_path / "tickets.sqlite"))
    store = demo_store(env, clock=clock)
    view = WishBoardView(
        database=Database(store.recorder.datastore),  # type: ignore[attr-defined]
        recorder=store.recorder,
        translate=translator(store.mapper, EventIds(bytes(32)), (WISHES,)),
    )
    view.create_tables()
    try:
        yield WishDesk.on(store, roster_on(store)), view
    finally:
        store.close()


def test_a_due_wish_is_expired_once_and_survives_a_restarted_sweeper(tmp_path: Path) -> None:
    clock = Clock()
    with _board_and_view(tmp_path, clock) as (board, view):
        _post(board, timedelta(hours=1))
        _post(board, timedelta(days=3))
        _post(board, None)
        asyncio.run(view.run_once())
        sweeper = ExpirySweeper(board, view, every_seconds=60)
        assert sweeper.sweep_once() == 0

        clock.now += timedelta(hours=2)
        assert sweeper.sweep_once() == 1
        restarted = ExpirySweeper(board, view, every_seconds=60)  # view not yet caught up
        assert restarted.sweep_once() == 0
        asyncio.run(view.run_once())
        states = sorted(e.state for e in view.entries(district="jinfeng", community="c01"))
        assert states == sorted([WishState.EXPIRED, WishState.OPEN, WishState.OPEN])
        topics = [n.topic for n in view.recorder.select_notifications(1, 100)]
        assert sum(t.endswith("Wish.Expired") for t in topics) == 1


class ExpiryFailsFor:
    """The real board, except that expiring one of `broken` fails unexpectedly every time."""

    def __init__(self, board: WishDesk, broken: set[UUID]) -> None:
        self.board = board
        self.broken = broken

    def clock(self) -> datetime:
        return self.board.clock()

    def expire_wish(self, caller: Caller, wish_id: UUID) -> object:
        if wish_id in self.broken:
            msg = f"wish {wish_id} cannot be loaded"
            raise RuntimeError(msg)
        return self.board.expire_wish(caller, wish_id)


def test_wishes_that_fail_to_expire_for_good_never_hold_back_those_due_after_them(
    tmp_path: Path,
) -> None:
    """More than a page (500) of wishes whose expiry fails every time, due first: the later
    ones still expire, and each failing one is counted, visible and not retried every pass."""
    clock = Clock()
    with _board_and_view(tmp_path, clock) as (board, view):
        for _ in range(500):
            _post(board, timedelta(hours=1))
        clock.now += timedelta(seconds=1)  # the last two are due a second after the others
        _post(board, timedelta(hours=1))
        _post(board, timedelta(hours=1))
        asyncio.run(view.run_once())
        entries = view.entries(district="jinfeng", community="c01", limit=1000)
        broken = {UUID(e.wish_id) for e in sorted(entries, key=lambda e: e.posted_at)[:500]}
        sweeper = ExpirySweeper(ExpiryFailsFor(board, broken), view, every_seconds=60)

        clock.now += timedelta(hours=2)
        assert sweeper.sweep_once() == 2
        assert sweeper.failures == 500
        assert sweeper.failing.report()["failing"] == 500
        assert sweeper.sweep_once() == 0  # the failed ones wait a pass or more
        assert sweeper.failures == 500
        asyncio.run(view.run_once())
        states = [e.state for e in view.entries(district="jinfeng", community="c01", limit=1000)]
        assert states.count(WishState.EXPIRED) == 2
