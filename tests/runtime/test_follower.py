"""A follower whose every pass fails (a poison it cannot get past) keeps retrying, but logs
one traceback, then a line per 30 s: every commit wakes it, and a traceback per commit once
grew the log to megabytes."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence

import pytest
from eventsourcing.persistence import Notification

from services.runtime.follower import LogFollower


class _Log:
    """One notification, always pending."""

    def select_notifications(self, start: int, limit: int) -> list[Notification]:
        return [Notification(id=start, originator_id=uuid.uuid4(), originator_version=1,
                             topic="t", state=b"{}")]  # fmt: skip


class _Stuck(LogFollower):
    passes = 0

    async def process(self, batch: Sequence[Notification]) -> int:
        self.passes += 1
        raise OverflowError("date value out of range")


class _Positions:
    def load(self, name: str) -> int:
        return 0


async def test_a_follower_failing_on_every_wake_logs_one_traceback_not_one_per_commit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    follower = _Stuck(name="stuck-view", recorder=_Log(), positions=_Positions(),  # type: ignore[arg-type]
                      poll_seconds=0.01)  # fmt: skip
    caplog.set_level(logging.ERROR)
    running = asyncio.create_task(follower.run())
    for _ in range(20):  # twenty commits, each waking it
        await asyncio.sleep(0.02)
        follower.wake()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert follower.passes > 5  # it kept trying
    errors = [r for r in caplog.records if r.name == "services.runtime.follower"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert not follower.condition.working
    assert "OverflowError" in (follower.condition.reason or "")
