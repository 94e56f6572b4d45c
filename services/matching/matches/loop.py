"""The matchmaker's loop: after its view has caught up with the store, propose for the needs
waiting, follow what happened to needs, and expire proposals past their time. Every step is
idempotent (a proposal's id is its need's and offer's; a change is forgotten in the
transaction that applies it), so a restart, or two instances, repeat nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.matching.matches.proposing import Matchmaker
from services.runtime.follower import LocalView
from services.runtime.supervise import Condition
from services.runtime.workers import StoreWorkers

log = logging.getLogger(__name__)


class MatchmakerLoop:
    def __init__(
        self,
        matchmaker: Matchmaker,
        views: tuple[LocalView, ...],
        *,
        every_seconds: float,
        workers: StoreWorkers,
    ) -> None:
        self.matchmaker = matchmaker
        self.views = views
        self.every_seconds = every_seconds
        self.workers = workers
        self.condition = Condition()
        self.proposed = 0
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Thread-safe nudge after a need arrived, so proposals need not wait for the poll."""
        if self._loop is not None and self._wakeup is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def run_once(self) -> int:
        for view in self.views:
            await view.run_once()
        proposed = await self.workers.run(self.matchmaker.propose_waiting)
        for view in self.views:
            await view.run_once()
        await self.workers.run(self.matchmaker.follow_changes)
        await self.workers.run(self.matchmaker.close_stale)
        await self.workers.run(self.matchmaker.expire_due)
        self.proposed += proposed
        return proposed

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        while True:
            self._wakeup.clear()
            try:
                await self.run_once()
                self.condition.worked()
            except Exception as error:
                log.exception("the matchmaker's pass failed; trying again")
                self.condition.failed(f"matchmaker: its last pass failed: {error!r}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.every_seconds)
