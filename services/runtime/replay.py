"""Replaying a source's feeds over the bus: request/reply, answered from the source's outbox.

A consumer that sees a gap in a feed (or finds the source's head past its own mark) asks the
source for the events after its mark, on `shiliu.replay.<source>`; the reply goes to the
consumer's private inbox. The source answers from its own store, so messages lost or deleted
from the stream, or a purged stream, still reach every consumer. Nothing here reads another
service's database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.envelope import INT64_MAX
from events.topology import replay_subject
from services.runtime.consumer import connect
from services.runtime.settings import BusSettings
from services.runtime.workers import StoreWorkers

log = logging.getLogger(__name__)
MAX_REPLY_BYTES = 512 * 1024
"""Well under nats-server's default max_payload of 1 MiB."""
Page = Callable[[str, int, int], tuple[int, list[bytes]]]


class ReplayRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    feed: str = Field(pattern=r"^[a-z0-9_-]+\.[a-z0-9_-]+$")
    after: int = Field(ge=0, le=INT64_MAX)
    limit: int = Field(default=500, ge=0, le=1000)


class ReplayError(Exception):
    """The source could not be asked, or answered with an error."""


class ReplayResponder:
    """The source side: answers replay requests for its feeds from its outbox."""

    def __init__(self, bus: BusSettings, source: str, page: Page, workers: StoreWorkers) -> None:
        self.bus = bus
        self.source = source
        self.page = page
        self.workers = workers
        self.answered = 0
        self._client: Client | None = None
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._client = await connect(self.bus, f"shiliu-{self.source}-replay")
        self._subscription = await self._client.subscribe(
            replay_subject(self.source), queue=f"{self.source}-replay", cb=self._answer
        )

    async def stop(self) -> None:
        if self._client is not None:
            with contextlib.suppress(NatsError):  # a bus already gone
                await self._client.close()

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def _answer(self, message: Msg) -> None:
        try:
            request = ReplayRequest.model_validate_json(message.data)
            head, events = await self.workers.run(
                self.page, request.feed, request.after, request.limit
            )
            await message.respond(_reply(head, events))
            self.answered += 1
        except ValidationError as error:
            await message.respond(orjson.dumps({"error": f"bad replay request: {error}"}))
        except Exception as error:
            log.exception("replay of %s failed", self.source)
            await message.respond(orjson.dumps({"error": repr(error)}))


def _reply(head: int, events: list[bytes]) -> bytes:
    """`{"head": n, "events": [...]}`, cut short so it fits one message."""
    kept: list[bytes] = []
    size = 64
    for event in events:
        size += len(event) + 1
        if size > MAX_REPLY_BYTES and kept:
            break
        kept.append(event)
    return b'{"head":%d,"events":[%s]}' % (head, b",".join(kept))


class ReplayClient:
    """The consumer side: asks sources for their heads and for events after a mark."""

    def __init__(self, bus: BusSettings, name: str, *, timeout: float = 5.0) -> None:
        self.bus = bus
        self.name = name
        self.timeout = timeout
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Client:
        async with self._lock:
            if self._client is None or self._client.is_closed:
                self._client = await connect(self.bus, f"shiliu-{self.name}-replay")
            return self._client

    async def page(self, feed: str, after: int, limit: int = 500) -> tuple[int, list[bytes]]:
        """The source's head of `feed` (its last stamped number), and its events after `after`."""
        source = feed.split(".", 1)[0]
        request = ReplayRequest(feed=feed, after=after, limit=limit)
        try:
            client = await self._connection()
            reply = await client.request(
                replay_subject(source), request.model_dump_json().encode(), timeout=self.timeout
            )
            body = orjson.loads(reply.data)
        except Exception as error:  # nats-py's errors share no base beyond Exception
            raise ReplayError(f"{source} did not answer a replay of {feed}: {error!r}") from error
        if "error" in body:
            raise ReplayError(f"{source} refused a replay of {feed}: {body['error']}")
        return int(body["head"]), [orjson.dumps(event) for event in body["events"]]

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(NatsError):  # a bus already gone
                await self._client.close()
