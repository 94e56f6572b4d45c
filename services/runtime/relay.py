"""The outbox relay: stamp what a service stored into its outbox, then publish it in order.

Read the notification log after the stamped position, number each integration event in its
feed (`Outbox.stamp`), then publish every stamped event with its `Nats-Msg-Id`, wait for the
ack, and record the published position. A crash anywhere republishes at most the unconfirmed
tail with the same ids and numbers, which JetStream's dedup window and the consumers' marks
absorb. An event the bus refuses for good (too large, a bad subject) is parked in the outbox,
not retried forever; consumers still get it, because the source replays its feeds on request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Protocol

from eventsourcing.persistence import ApplicationRecorder, Notification
from fastapi import APIRouter, HTTPException, Path, Query
from faststream.nats import NatsBroker
from nats.errors import BadSubjectError, MaxPayloadError

from events.envelope import INT64_MAX
from services.runtime.follower import LogFollower
from services.runtime.identity import authorize
from services.runtime.outbox import STAMPED, Outbox, OutboxEvent, ParkedNotification
from services.runtime.workers import StoreWorkers

UNPUBLISHABLE: tuple[type[Exception], ...] = (MaxPayloadError, BadSubjectError)
"""What no retry can mend: the event is parked instead (a lost connection is retried)."""


class BusUnavailableError(Exception):
    """The bus refused a retried event for now (not for good); it stays parked."""


class Publisher(Protocol):
    async def publish(self, event: OutboxEvent) -> None:
        """Return only once the bus has acknowledged the event as stored."""


class JetStreamPublisher:
    """Publishes to a named stream and waits for its ack (never a fire-and-forget core publish)."""

    def __init__(self, broker: NatsBroker, *, stream: str, timeout: float) -> None:
        self.broker = broker
        self.stream = stream
        self.timeout = timeout

    async def publish(self, event: OutboxEvent) -> None:
        await self.broker.publish(
            event.payload,
            event.subject,
            headers=event.headers,
            stream=self.stream,
            timeout=self.timeout,
        )


class Relay(LogFollower):
    """Follows one application's notification log into its outbox and onto the bus."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        recorder: ApplicationRecorder,
        publisher: Publisher,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        workers: StoreWorkers | None = None,
    ) -> None:
        super().__init__(
            name=STAMPED,
            recorder=recorder,
            positions=outbox.positions,
            batch_size=batch_size,
            poll_seconds=poll_seconds,
            workers=workers,
        )
        self.outbox = outbox
        self.publisher = publisher

    async def run_once(self) -> int:
        """Publish what was stamped but not yet published, then stamp and publish the rest."""
        return await self.flush() + await super().run_once()

    async def process(self, batch: Sequence[Notification]) -> int:
        await self.workers.run(self.outbox.stamp, batch)
        return await self.flush()

    async def flush(self) -> int:
        """Publish every stamped event not yet published; return how many were sent."""
        sent = 0
        while events := await self.workers.run(self.outbox.unpublished, self.batch_size):
            confirmed = 0
            try:
                for event in events:
                    sent += await self._send(event)
                    confirmed = event.position
            except Exception:
                if confirmed:
                    await self.workers.run(self.outbox.mark_published, confirmed)
                raise
            await self.workers.run(self.outbox.mark_published, confirmed)
        await self.workers.run(self.outbox.catch_up_published)
        return sent

    async def _send(self, event: OutboxEvent) -> int:
        try:
            await self.publisher.publish(event)
        except UNPUBLISHABLE as error:
            await self.workers.run(self.outbox.park_unpublishable, event, repr(error))
            return 0
        return 1

    async def retry(self, parked_id: int) -> bool | None:
        """Put a parked notification through again, after a fix: None if there is no such
        entry, else whether it went out this time (failing again, it stays parked). One held
        behind an earlier notification of its aggregate goes out after it, in order, or not
        at all. Raises `BusUnavailableError` when the bus refuses for now: nothing is lost,
        the entry stays parked."""
        entry = await self.workers.run(self.outbox.find_parked, parked_id)
        if entry is None:
            return None
        if entry.feed is None:
            pending = await self.workers.run(self._restamp, parked_id)
        else:
            pending = await self.workers.run(self.outbox.unsent_before, parked_id)
        published = False
        for stamped_id in pending:
            sent = await self._republish(stamped_id)
            published = published or (sent and stamped_id == parked_id)
        return published

    def _restamp(self, parked_id: int) -> list[int]:
        loaded: dict[int, Notification] = {}
        for position in self.outbox.held_positions(parked_id):
            found = self.recorder.select_notifications(position, 1)
            if found and found[0].id == position:
                loaded[position] = found[0]
        return self.outbox.restamp(parked_id, loaded)

    async def _republish(self, parked_id: int) -> bool:
        event = await self.workers.run(self.outbox.parked_event, parked_id)
        if event is None:
            return False
        try:
            await self.publisher.publish(event)
        except UNPUBLISHABLE as error:
            await self.workers.run(self.outbox.note_parked, parked_id, repr(error))
            return False
        except Exception as error:
            await self.workers.run(self.outbox.note_parked, parked_id, f"bus: {error!r}")
            raise BusUnavailableError(parked_id) from error
        await self.workers.run(self.outbox.release_parked, parked_id)
        return True

    def status(self) -> dict[str, Any]:
        """The log's head, how far the relay stamped and published, its lag, each feed's
        stamped head, and how many notifications it parked."""
        head = self.recorder.max_notification_id() or 0
        published = self.outbox.published()
        return {
            "head": head, "stamped": self.outbox.stamped(), "published": published,
            "lag": head - published, "feeds": self.outbox.heads(),
            "parked": self.outbox.parked_count(),
        }  # fmt: skip


def relay_router(relay: Relay) -> APIRouter:
    """The relay's operator views: its status, what it parked, and a retry after a fix."""
    router = APIRouter(prefix="/ops/relay", tags=["ops"])

    @router.get("", dependencies=[authorize("ops.read")])
    async def relay_status() -> dict[str, Any]:
        return await relay.workers.run(relay.status)

    @router.get(
        "/parked", response_model=list[ParkedNotification], dependencies=[authorize("ops.read")]
    )
    async def parked(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[ParkedNotification]:
        return await relay.workers.run(relay.outbox.parked, limit)

    @router.post("/parked/{parked_id}/retry", dependencies=[authorize("ops.repair")])
    async def retry(parked_id: Annotated[int, Path(ge=1, le=INT64_MAX)]) -> dict[str, bool]:
        try:
            published = await relay.retry(parked_id)
        except BusUnavailableError:
            raise HTTPException(503, {"code": "relay.bus_unavailable", "parameter": "parked_id",
                                      "message": f"the bus refused {parked_id} for now; it stays "
                                                 "parked: retry later"}) from None  # fmt: skip
        if published is None:
            raise HTTPException(404, {"code": "relay.parked_not_found", "parameter": "parked_id",
                                      "message": f"nothing parked as {parked_id}"})  # fmt: skip
        return {"published": published}

    return router
