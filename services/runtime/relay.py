"""The outbox relay: publish what a service stored, in order, from its notification log.

Read after the last confirmed position, publish each integration event with a deterministic
`Nats-Msg-Id`, wait for the ack, then record the position. A crash anywhere republishes at
most the unconfirmed tail, which JetStream's dedup window and the consumers' tracking absorb.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import orjson
from eventsourcing.persistence import ApplicationRecorder, Notification
from faststream.nats import NatsBroker

from events.envelope import IntegrationEvent
from events.subjects import subject_for
from services.runtime.follower import LogFollower
from services.runtime.positions import PositionStore
from services.runtime.workers import StoreWorkers

Translate = Callable[[Notification], IntegrationEvent | None]


class Publisher(Protocol):
    async def publish(self, event: IntegrationEvent) -> None:
        """Return only once the bus has acknowledged the event as stored."""


def encode(event: IntegrationEvent) -> bytes:
    return orjson.dumps(event.model_dump(mode="json"))


def headers_for(event: IntegrationEvent) -> dict[str, str]:
    return {
        "Nats-Msg-Id": str(event.event_id),
        "Shiliu-Type": event.type,
        "Shiliu-Source": event.source,
        "Shiliu-Position": str(event.position),
        "content-type": "application/json",
    }


class JetStreamPublisher:
    """Publishes to a named stream and waits for its ack (never a fire-and-forget core publish)."""

    def __init__(self, broker: NatsBroker, *, stream: str, timeout: float) -> None:
        self.broker = broker
        self.stream = stream
        self.timeout = timeout

    async def publish(self, event: IntegrationEvent) -> None:
        await self.broker.publish(
            encode(event),
            subject_for(event),
            headers=headers_for(event),
            stream=self.stream,
            timeout=self.timeout,
        )


class Relay(LogFollower):
    """Follows one application's notification log onto the bus."""

    def __init__(
        self,
        *,
        name: str,
        recorder: ApplicationRecorder,
        translate: Translate,
        positions: PositionStore,
        publisher: Publisher,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        workers: StoreWorkers | None = None,
    ) -> None:
        super().__init__(
            name=name,
            recorder=recorder,
            positions=positions,
            batch_size=batch_size,
            poll_seconds=poll_seconds,
            workers=workers,
        )
        self.translate = translate
        self.publisher = publisher

    async def process(self, batch: Sequence[Notification]) -> int:
        confirmed = 0
        sent = 0
        for notification in batch:
            try:
                event = self.translate(notification)
                if event is not None:
                    await self.publisher.publish(event)
                    sent += 1
            except Exception:
                await self._save(confirmed)
                raise
            confirmed = notification.id
        await self._save(confirmed)
        return sent

    async def _save(self, position: int) -> None:
        if position:
            await self.workers.run(self.positions.save, self.name, position)
