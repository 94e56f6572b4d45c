"""The deadline scheduler: warnings, breaches and escalations, produced as events.

Durable by construction: the deadlines live on the aggregates (tickets, disputes), the view
proposes what is due, and the aggregate decides. A deadline already warned or breached
refuses to record again, so a restarted (or a second) scheduler never fires twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from events.envelope import Role
from services.runtime.workers import StoreWorkers
from services.tickets.application import Caller
from services.tickets.ticketing.view import TicketDeskView

log = logging.getLogger(__name__)
SCHEDULER = Caller(actor_id="system:deadlines", role=Role.SYSTEM.value)
Watcher = Callable[[Caller, UUID], list[str]]
"""Record what is due now of one aggregate's deadline; return what was recorded."""


class DeadlineScheduler:
    def __init__(
        self,
        view: TicketDeskView,
        watchers: Mapping[str, Watcher],
        *,
        every_seconds: float,
        workers: StoreWorkers | None = None,
    ) -> None:
        self.view = view
        self.watchers = dict(watchers)
        self.every_seconds = every_seconds
        self.workers = workers or StoreWorkers("deadlines")
        self.failures = 0
        """Deadlines whose watch failed unexpectedly (logged); each is asked again next sweep."""

    def sweep_once(self, now: Any) -> dict[str, int]:
        """Ask every aggregate with something due by `now`; count what was recorded. One
        aggregate failing does not stop the others."""
        counts: dict[str, int] = {}
        for watch in self.view.due(now):
            watcher = self.watchers.get(watch.kind)
            if watcher is None:
                continue
            try:
                facts = watcher(SCHEDULER, watch.aggregate_id)
            except Exception:
                log.exception("could not watch %s %s; asking again next sweep", watch.kind,
                              watch.aggregate_id)  # fmt: skip
                self.failures += 1
                continue
            for fact in facts:
                counts[fact] = counts.get(fact, 0) + 1
        return counts

    async def run(self, clock: Callable[[], Any]) -> None:
        while True:
            try:
                if counts := await self.workers.run(self.sweep_once, clock()):
                    log.info("deadlines: %s", counts)
            except Exception:
                log.exception("the deadline sweep failed; trying again later")
            await asyncio.sleep(self.every_seconds)
