"""Wishes past their expiry leave the board as `WishExpired`, exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from events.wishes import ClaimMode, WishCategory
from services.runtime.database import Database, eventsourcing_env
from services.runtime.settings import StoreSettings
from services.tickets.application import Caller, WishBoard
from services.tickets.board import WishBoardView
from services.tickets.domain import Place, WishState
from services.tickets.expiry import ExpirySweeper
from services.tickets.publishing import translator
from tests.conftest import with_demo_territory


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _post(board: WishBoard, expires_in: timedelta | None) -> WishBoard:
    outcome = board.post_wish(
        Caller("resident-1", "resident"), place=Place("jinfeng", "s01", "c01"),
        resident_id="p1", title="测一次血压", category=WishCategory.HEALTH,
        claim_mode=ClaimMode.EXCLUSIVE, quota=1,
        expires_at=board.clock() + expires_in if expires_in else None,
    )  # fmt: skip
    board.verify_wish(Caller("staff-1", "community_staff"), outcome.wish.id)
    return board


def test_a_due_wish_is_expired_once_and_survives_a_restarted_sweeper(tmp_path: Path) -> None:
    clock = Clock()
    env = eventsourcing_env(StoreSettings(sqlite_path=tmp_path / "tickets.sqlite"))
    board = with_demo_territory(WishBoard(env, clock=clock))
    try:
        view = WishBoardView(
            database=Database(board.recorder.datastore),  # type: ignore[attr-defined]
            recorder=board.recorder,
            translate=translator(board.mapper),
        )
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
        topics = [n.topic for n in board.recorder.select_notifications(1, 100)]
        assert sum(t.endswith("Wish.Expired") for t in topics) == 1
    finally:
        board.close()
