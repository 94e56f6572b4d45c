"""Background loops that never stop silently: each failure is logged, counted and the loop
restarted after a backoff with jitter.

A loop that retries inside itself (a pull loop waiting for its consumer, a relay whose publishes
fail) never raises, so "running" alone says little: such a loop reports a `Condition` — whether
its last attempt worked, and if not, why. Readiness needs every loop running and working.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

log = logging.getLogger(__name__)
Run = Callable[[], Awaitable[None]]
MAX_BACKOFF_SECONDS = 30.0
STEADY_SECONDS = 60.0
"""A loop that ran this long before failing starts its backoff afresh."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Condition:
    """What a loop says about its own work: whether its last attempt worked, else why not."""

    working: bool = False
    reason: str | None = "starting"
    since: datetime = field(default_factory=_now)
    """When it last changed between working and not."""

    def worked(self) -> None:
        if not self.working:
            self.working, self.reason, self.since = True, None, _now()

    def failed(self, reason: str) -> None:
        if self.working:
            self.since = _now()
        self.working, self.reason = False, reason[:500]


@dataclass
class LoopState:
    name: str
    condition: Condition | None = None
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

    def start(self, name: str, run: Run, condition: Condition | None = None) -> None:
        """Run `run` as `name`; `condition`, when given, is the loop's own account of its work."""
        self.states[name] = LoopState(name, condition)
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
        return not self.problems()

    def problems(self) -> dict[str, str]:
        """Each loop not running, or running but not working, with why."""
        problems: dict[str, str] = {}
        for name, state in self.states.items():
            if not state.running:
                problems[name] = f"not running (last error: {state.last_error})"
            elif state.condition is not None and not state.condition.working:
                since = state.condition.since.isoformat(timespec="seconds")
                problems[name] = f"{state.condition.reason} (since {since})"
        return problems

    def report(self) -> dict[str, dict[str, object]]:
        return {name: _report(s) for name, s in self.states.items()}

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


def _report(state: LoopState) -> dict[str, object]:
    condition = state.condition
    return {
        "running": state.running, "failures": state.failures, "last_error": state.last_error,
        "last_error_at": state.last_error_at.isoformat() if state.last_error_at else None,
        "working": condition.working if condition else state.running,
        "reason": condition.reason if condition else None,
    }  # fmt: skip
