"""Following a service's own notification log: the base of the relay and of local views."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from eventsourcing.persistence import ApplicationRecorder, Notification
from pydantic import ValidationError

from events.envelope import IntegrationEvent
from services.runtime.database import Cursor, Database
from services.runtime.positions import PositionStore
from services.runtime.supervise import Condition
from services.runtime.workers import StoreWorkers

log = logging.getLogger(__name__)


class LogFollower(ABC):
    """Processes notifications after a saved position, in batches, until cancelled.

    SQLite has no live subscription, so the loop polls; `wake()` shortens the wait after a
    commit made in this process.
    """

    def __init__(
        self,
        *,
        name: str,
        recorder: ApplicationRecorder,
        positions: PositionStore,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        workers: StoreWorkers | None = None,
    ) -> None:
        self.workers = workers or StoreWorkers(name)
        self.name = name
        self.recorder = recorder
        self.positions = positions
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.condition = Condition()
        """Whether the last pass worked: `run` retries failures itself, so it never raises."""
        self._failures = 0
        self._next_report = 0.0

    @abstractmethod
    async def process(self, batch: Sequence[Notification]) -> int:
        """Handle a batch and persist the new position; return how many items it produced."""

    def wake(self) -> None:
        """Thread-safe nudge after a commit, so the follower need not wait for the next poll."""
        if self._loop is not None and self._wakeup is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def wait_for(self, position: int, within: float = 5.0) -> bool:
        """Read-your-writes: wait until the follower has processed `position`."""
        deadline = asyncio.get_running_loop().time() + within
        while await self.position() < position:
            if asyncio.get_running_loop().time() > deadline:
                return False
            self.wake()
            await asyncio.sleep(0.02)
        return True

    async def position(self) -> int:
        return await self.workers.run(self.positions.load, self.name)

    async def run_once(self) -> int:
        """Process everything pending now; return how many items were produced."""
        produced = 0
        while True:
            start = await self.position()
            batch = await self.workers.run(
                self.recorder.select_notifications, start + 1, self.batch_size
            )
            if not batch:
                return produced
            produced += await self.process(batch)

    async def run(self) -> None:
        """Follow until cancelled, backing off while processing fails."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        backoff = self.poll_seconds
        task = asyncio.current_task()
        while True:
            if task is not None and task.cancelling():
                # on 3.11 a library's wait_for (e.g. a publish awaiting its ack) can swallow
                # the cancel; stop anyway, or shutdown waits for this loop forever
                raise asyncio.CancelledError
            self._wakeup.clear()
            try:
                await self.run_once()
                self.condition.worked()
                backoff = self.poll_seconds
                self._failures = 0
            except Exception as error:
                self._note_failure(error, backoff)
                self.condition.failed(f"{self.name}: its last pass failed: {error!r}")
                backoff = min(backoff * 2, 30.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=backoff)

    def _note_failure(self, error: Exception, backoff: float) -> None:
        """The first failure of a run with its traceback, then one line per 30 s: a commit wakes
        a failing follower too, and a traceback per commit flooded the log."""
        now = time.monotonic()
        self._failures += 1
        if self._failures == 1:
            log.exception("%s could not proceed; retrying in %.1fs", self.name, backoff)
            self._next_report = now + 30.0
        elif now >= self._next_report:
            log.error("%s still cannot proceed (%d failed passes): %r", self.name,
                      self._failures, error)  # fmt: skip
            self._next_report = now + 30.0


class LocalView(LogFollower):
    """Tables a service keeps from its own log: each batch is applied in one transaction
    together with the view's position, so a restart neither skips nor repeats, nor does a
    twin on the same store.

    The view's name carries its schema version: under a new name the position is 0, so the
    tables are dropped and rebuilt from the whole log.
    """

    tables: tuple[str, ...] = ()
    ddl: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        name: str,
        database: Database,
        recorder: ApplicationRecorder,
        translate: Callable[[Notification], IntegrationEvent | None],
        poll_seconds: float = 0.5,
        workers: StoreWorkers | None = None,
    ) -> None:
        super().__init__(
            name=name,
            recorder=recorder,
            positions=PositionStore(database),
            poll_seconds=poll_seconds,
            workers=workers,
        )
        self.database = database
        self.translate = translate
        self.untranslatable = 0
        """Notifications passed over because no event could be made of them."""

    def create_tables(self) -> None:
        """Its tables, when they are missing, or afresh when its position is 0 (a new name
        or a new view): at the owner's start, never at construction.

        One transaction holding the view's position row, as a batch does: a twin starting at
        the same moment either drops tables still empty, or waits for the first batch and then
        finds the position moved and drops nothing.
        """
        self.positions.create_tables()
        with self.database.ddl_transaction() as tx:
            if PositionStore.claim_in(tx, self.name) == 0:
                for table in self.tables:
                    tx.execute(f"DROP TABLE IF EXISTS {{t:{table}}}")
            for statement in self.ddl:
                tx.execute(statement)

    def _translated(self, notification: Notification) -> IntegrationEvent | None:
        """The notification's event; one that cannot be translated is passed over (and
        counted in `untranslatable`), never retried forever: the relay parks the same one
        where an operator sees it, and one bad record must not freeze the whole view."""
        try:
            return self.translate(notification)
        except ValidationError as error:
            self.untranslatable += 1
            log.error("%s passes over notification %d (%s): %s", self.name, notification.id,
                      notification.topic, error)  # fmt: skip
            return None

    @abstractmethod
    def apply(self, tx: Cursor, event: IntegrationEvent) -> bool:
        """Apply one event inside the batch's transaction; False when it is not this view's."""

    async def process(self, batch: Sequence[Notification]) -> int:
        return await self.workers.run(self._apply_batch, batch)

    def _apply_batch(self, batch: Sequence[Notification]) -> int:
        """Apply what lies past the view's position, read with its row locked: a twin (another
        instance on the same store) that read the same batch waits, then skips what the first
        applied, so a view never applies a notification twice (claims, refusals counted)."""
        applied = 0
        with self.database.transaction() as tx:
            start = PositionStore.claim_in(tx, self.name)
            for notification in batch:
                if notification.id <= start:
                    continue  # a twin applied it first
                event = self._translated(notification)
                if event is not None and self.apply(tx, event):
                    applied += 1
            if batch[-1].id > start:
                PositionStore.save_in(tx, self.name, batch[-1].id)
        return applied
