"""Background loops that never stop silently: each failure is logged, counted and the loop
restarted after a backoff with jitter; readiness reads whether every loop is running."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger(__name__)
Run = Callable[[], Awaitable[None]]
MAX_BACKOFF_SECONDS = 30.0
STEADY_SECONDS = 60.0
"""A loop that ran this long before failing starts its backoff afresh."""


@dataclass
class LoopState:
    name: str
    running: bool = False
    failures: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None


class Supervisor:
    """Starts named loops as tasks and keeps them running until `stop`."""

    def __init__(self, *, first_backoff: float = 0.5) -> None:
        self.first_backoff = first_backoff
        self.states: dict[str, LoopState] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, run: Run) -> None:
        self.states[name] = LoopState(name)
        self._tasks.append(asyncio.create_task(self._keep(self.states[name], run), name=name))

    async def _keep(self, state: LoopState, run: Run) -> None:
        loop = asyncio.get_running_loop()
        backoff = self.first_backoff
        while True:
            started = loop.time()
            state.running = True
            try:
                await run()
                log.warning("%s returned; restarting it", state.name)
            except asyncio.CancelledError:
                state.running = False
                raise
            except Exception as error:
                log.exception("%s failed; restarting in about %.1fs", state.name, backoff)
                state.failures += 1
                state.last_error = repr(error)[:500]
                state.last_error_at = datetime.now(UTC)
            state.running = False
            if loop.time() - started > STEADY_SECONDS:
                backoff = self.first_backoff
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    @property
    def alive(self) -> bool:
        return all(state.running for state in self.states.values())

    def report(self) -> dict[str, dict[str, object]]:
        return {
            name: {"running": s.running, "failures": s.failures, "last_error": s.last_error,
                   "last_error_at": s.last_error_at.isoformat() if s.last_error_at else None}
            for name, s in self.states.items()
        }  # fmt: skip

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
