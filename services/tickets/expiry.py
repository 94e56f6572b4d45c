"""Expiring wishes whose time has passed, as the system actor.

The board view proposes candidates; the aggregate decides. A wish already changed (or expired
by another instance) refuses the transition, so a sweep after a restart never expires twice.
"""

from __future__ import annotations

import asyncio
import logging

from events.envelope import Role
from services.runtime.workers import StoreWorkers
from services.tickets.application import Caller, WishBoard
from services.tickets.board import WishBoardView
from services.tickets.domain import IllegalTransitionError, NotYetDueError

log = logging.getLogger(__name__)
EXPIRY_ACTOR = Caller(actor_id="system:wish-expiry", role=Role.SYSTEM.value)


class ExpirySweeper:
    def __init__(
        self,
        board: WishBoard,
        view: WishBoardView,
        *,
        every_seconds: float,
        workers: StoreWorkers | None = None,
    ) -> None:
        self.workers = workers or StoreWorkers("wish-expiry")
        self.board = board
        self.view = view
        self.every_seconds = every_seconds
        self.failures = 0
        """Wishes whose expiry failed unexpectedly (logged); each is tried again next sweep."""

    def sweep_once(self) -> int:
        """Expire every due wish; return how many were expired now. One wish failing does not
        stop the others."""
        expired = 0
        for wish_id in self.view.due_for_expiry(self.board.clock()):
            try:
                self.board.expire_wish(EXPIRY_ACTOR, wish_id)
            except (IllegalTransitionError, NotYetDueError):
                continue
            except Exception:
                log.exception("could not expire wish %s; trying again next sweep", wish_id)
                self.failures += 1
                continue
            expired += 1
        return expired

    async def run(self) -> None:
        while True:
            try:
                if expired := await self.workers.run(self.sweep_once):
                    log.info("expired %d wishes", expired)
            except Exception:
                log.exception("the expiry sweep failed; trying again later")
            await asyncio.sleep(self.every_seconds)
