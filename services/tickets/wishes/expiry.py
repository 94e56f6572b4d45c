"""Expiring wishes whose time has passed, as the system actor.

The board view proposes candidates; the aggregate decides. A wish already changed (or expired
by another instance) refuses the transition, so a sweep after a restart never expires twice.
Every due wish is proposed each pass, and one that fails waits its own backoff
(`services.tickets.sweeps`), so no number of failing wishes holds back the others.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Protocol
from uuid import UUID

from events.envelope import Role
from services.runtime.commands import Caller
from services.runtime.workers import StoreWorkers
from services.tickets.sweeps import FailingItems, every_due
from services.tickets.wishes.board import DueWish, WishBoardView
from services.tickets.wishes.domain import IllegalTransitionError, NotYetDueError

log = logging.getLogger(__name__)
EXPIRY_ACTOR = Caller(actor_id="system:wish-expiry", role=Role.SYSTEM.value)


class Expiring(Protocol):
    """What the sweeper needs of the wish board."""

    def clock(self) -> datetime: ...

    def expire_wish(self, caller: Caller, wish_id: UUID) -> object: ...


class ExpirySweeper:
    def __init__(
        self,
        board: Expiring,
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
        """Expiries that failed unexpectedly (logged); each wish is tried again after a backoff."""
        self.failing = FailingItems()

    def sweep_once(self) -> int:
        """Expire every due wish; return how many were expired now. One wish failing does not
        stop or delay the others."""
        expired = 0
        now = self.board.clock()
        self.failing.start_pass()
        for due in every_due(lambda after: self.view.due_for_expiry(now, after), _key):
            if self.failing.is_due(due.wish_id):
                expired += self._expire(due.wish_id)
        self.failing.finish_pass()
        return expired

    def _expire(self, wish_id: UUID) -> int:
        try:
            self.board.expire_wish(EXPIRY_ACTOR, wish_id)
        except (IllegalTransitionError, NotYetDueError):
            self.failing.succeeded(wish_id)
            return 0
        except Exception as error:
            log.exception("could not expire wish %s; trying again after a backoff", wish_id)
            self.failures += 1
            self.failing.failed(wish_id, error)
            return 0
        self.failing.succeeded(wish_id)
        return 1

    async def run(self) -> None:
        while True:
            try:
                if expired := await self.workers.run(self.sweep_once):
                    log.info("expired %d wishes", expired)
            except Exception:
                log.exception("the expiry sweep failed; trying again later")
            await asyncio.sleep(self.every_seconds)


def _key(due: DueWish) -> tuple[str, str]:
    return due.key
