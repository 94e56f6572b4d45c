"""The deadline scheduler: warnings, breaches and escalations, produced as events.

Durable by construction: the deadlines live on the aggregates (tickets, disputes), the view
proposes what is due, and the aggregate decides. A deadline already warned or breached
refuses to record again, so a restarted (or a second) scheduler never fires twice. Every
due watch is asked each pass, and one that fails waits its own backoff
(`services.tickets.sweeps`), so no number of failing aggregates holds back the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from events.envelope import Role
from services.runtime.commands import Caller
from services.runtime.workers import StoreWorkers
from services.tickets.sweeps import FailingItems, every_due
from services.tickets.ticketing.view import TicketDeskView, Watch

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
        """Watches that failed unexpectedly (logged); each is asked again after a backoff."""
        self.failing = FailingItems()

    def sweep_once(self, now: Any) -> dict[str, int]:
        """Ask every aggregate with something due by `now`; count what was recorded. One
        aggregate failing does not stop or delay the others."""
        counts: dict[str, int] = {}
        self.failing.start_pass()
        for watch in every_due(lambda after: self.view.due(now, after), _key):
            watcher = self.watchers.get(watch.kind)
            if watcher is None or not self.failing.is_due(watch.aggregate_id):
                continue
            for fact in self._watch(watcher, watch):
                counts[fact] = counts.get(fact, 0) + 1
        self.failing.finish_pass()
        return counts

    def _watch(self, watcher: Watcher, watch: Watch) -> list[str]:
        try:
            facts = watcher(SCHEDULER, watch.aggregate_id)
        except Exception as error:
            log.exception("could not watch %s %s; asking again after a backoff", watch.kind,
                          watch.aggregate_id)  # fmt: skip
            self.failures += 1
            self.failing.failed(watch.aggregate_id, error)
            return []
        self.failing.succeeded(watch.aggregate_id)
        return facts

    async def run(self, clock: Callable[[], Any]) -> None:
        while True:
            try:
                if counts := await self.workers.run(self.sweep_once, clock()):
                    log.info("deadlines: %s", counts)
            except Exception:
                log.exception("the deadline sweep failed; trying again later")
            await asyncio.sleep(self.every_seconds)


def _key(watch: Watch) -> tuple[str, str]:
    return watch.key
