"""Threads for the store work that background tasks do, drained before the store closes.

The eventsourcing library and our SQL are synchronous, so tasks run them in threads.
Cancelling a task does not stop the thread it awaits, and closing SQLite under a running query
crashes the process; so a service cancels its tasks, drains these threads, then closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")


class StoreWorkers:
    def __init__(self, name: str, *, threads: int = 4) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args))

    async def drain(self) -> None:
        """Wait for every thread still working; no new work is accepted afterwards."""
        await asyncio.get_running_loop().run_in_executor(
            None, partial(self._executor.shutdown, wait=True)
        )
