"""A durable pull consumer's fetch loop, handing ordered batches to one handler.

We own this loop instead of using FastStream's batch pull subscriber: in faststream 0.7.8 with
nats-py 2.16, a fetch whose deadline runs out mid-batch raises `asyncio.TimeoutError` (not the
`nats.errors.TimeoutError` FastStream catches), the subscriber task restarts, and the messages
already fetched sit unacknowledged until `ack_wait` expires — a stall of 30 s per occurrence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError, NoServersError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError, ServiceUnavailableError

from events.topology import ConsumerSpec
from services.runtime.settings import BusSettings
from services.runtime.supervise import Condition

log = logging.getLogger(__name__)
Handler = Callable[[Sequence[Msg]], Awaitable[None]]
Idle = Callable[[], Awaitable[None]]


async def connect(bus: BusSettings, name: str) -> Client:
    """A connection that reconnects forever (nats-py otherwise gives up after ~2 minutes)."""
    return await nats.connect(
        servers=bus.servers,
        name=name,
        connect_timeout=int(bus.connect_timeout_seconds),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        **bus.auth_options(),
    )


class PullLoop:
    """Binds to a provisioned durable consumer (never creates it) and feeds batches in order."""

    def __init__(
        self,
        bus: BusSettings,
        spec: ConsumerSpec,
        handle: Handler,
        *,
        batch_size: int = 100,
        fetch_seconds: float = 1.0,
        on_idle: Idle | None = None,
    ) -> None:
        self.bus = bus
        self.spec = spec
        self.handle = handle
        self.batch_size = batch_size
        self.fetch_seconds = fetch_seconds
        self.on_idle = on_idle
        self.client: Client | None = None
        self.lag = 0
        """Messages the server still had for this consumer at the last fetch."""
        self.condition = Condition()
        """Whether the loop is bound and its last fetch worked; readiness reads it."""

    @property
    def is_connected(self) -> bool:
        return self.client is not None and self.client.is_connected

    async def run(self) -> None:
        """Fetch and hand over batches until cancelled; `on_idle` runs when a fetch is empty.

        While the consumer is missing (a deleted stream, not provisioned yet) or the bus is
        gone, the loop waits and rebinds, and its `condition` says so: readiness reads it.
        Errors other than these propagate to the supervisor."""
        client = self.client = await connect(self.bus, f"shiliu-{self.spec.durable}")
        try:
            js = client.jetstream()
            while True:
                subscription = await self._bind(js)
                await self._pull(subscription)
                with contextlib.suppress(NatsError):
                    await subscription.unsubscribe()
        finally:
            await client.close()

    async def _pull(self, subscription: JetStreamContext.PullSubscription) -> None:
        """Fetch until cancelled; return when the consumer stops answering (to rebind)."""
        task = asyncio.current_task()
        while True:
            if task is not None and task.cancelling():
                # nats-py's fetch awaits with wait_for, which on 3.11 can swallow a cancel;
                # stop anyway, or shutdown waits for this loop forever
                raise asyncio.CancelledError
            try:
                batch = await subscription.fetch(self.batch_size, timeout=self.fetch_seconds)
            except (NatsTimeoutError, TimeoutError):
                self.condition.worked()
                self.lag = 0
                if self.on_idle is not None:
                    await self.on_idle()
                continue
            except ServiceUnavailableError:  # no consumer answers: deleted with its stream?
                self.condition.failed(f"{self._names}: the consumer does not answer; rebinding")
                return
            except (ConnectionClosedError, NoServersError) as error:
                self.condition.failed(f"{self._names}: bus connection lost ({error!r})")
                await asyncio.sleep(1.0)
                continue
            self.condition.worked()
            self.lag = batch[-1].metadata.num_pending if batch else 0
            await self.handle(batch)

    async def _bind(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        while True:
            try:
                await js.consumer_info(self.spec.stream, self.spec.durable)
                subscription = await js.pull_subscribe_bind(self.spec.durable, self.spec.stream)
            except (NotFoundError, NatsTimeoutError, TimeoutError, ServiceUnavailableError) as e:
                why = "not found" if isinstance(e, NotFoundError) else f"not reachable ({e!r})"
                self.condition.failed(f"{self._names}: not bound, consumer {why}")
                log.warning("%s: consumer %s (run `shiliu provision`); waiting", self._names, why)
                await asyncio.sleep(2.0)
                continue
            self.condition.worked()
            return subscription

    @property
    def _names(self) -> str:
        return f"consumer {self.spec.durable} on stream {self.spec.stream}"
