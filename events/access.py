"""Who may do what on the bus: each identity's NATS publish and subscribe permissions.

Derived from the topology, so a new stream or consumer carries its permissions with it. A
JetStream consumer needs no subscription to its stream's subjects: it asks the API for the next
messages, which arrive in its own inbox, and acknowledges them by publishing. Every reply (a
publish ack, an API answer, a fetched message) goes to the identity's own inbox prefix, which
no other identity may subscribe to.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from events.subjects import subject_pattern
from events.topology import (
    LEDGER_DISPUTES,
    LEDGER_TICKETS,
    LEDGER_VISITS,
    LEDGER_WISHES,
    MATCHING_TICKETS,
    MATCHING_WISHES,
    STREAMS,
    TICKETS_UNITS,
    ConsumerSpec,
    StreamSpec,
    replay_subject,
)

JS_API = "$JS.API"


def inbox_prefix(user: str) -> str:
    """The inbox a user's replies arrive in (nats-py's `inbox_prefix`)."""
    return f"_INBOX_{user}"


def consuming(spec: ConsumerSpec) -> tuple[str, ...]:
    """Bind to a provisioned durable consumer, fetch from it, and ack, nak or term its messages."""
    where = f"{spec.stream}.{spec.durable}"
    return (
        f"{JS_API}.CONSUMER.INFO.{where}",
        f"{JS_API}.CONSUMER.MSG.NEXT.{where}",
        f"$JS.ACK.{where}.>",
    )


def managing(stream: StreamSpec) -> tuple[str, ...]:
    """Create, inspect and update a stream and its consumers, and replay it (no deletes)."""
    name = stream.name
    return (
        f"{JS_API}.STREAM.INFO.{name}",
        f"{JS_API}.STREAM.CREATE.{name}",
        f"{JS_API}.STREAM.UPDATE.{name}",
        f"{JS_API}.CONSUMER.CREATE.{name}",
        f"{JS_API}.CONSUMER.CREATE.{name}.>",
        f"{JS_API}.CONSUMER.DURABLE.CREATE.{name}.*",
        f"{JS_API}.CONSUMER.INFO.{name}.*",
        f"{JS_API}.CONSUMER.MSG.NEXT.{name}.*",
    )


class BusUser(BaseModel):
    """One identity on the bus: what it emits, which consumers it reads, which streams it runs."""

    model_config = ConfigDict(frozen=True)

    name: str
    emits: tuple[str, ...] = ()
    consumes: tuple[ConsumerSpec, ...] = ()
    manages: tuple[StreamSpec, ...] = ()
    answers_replays: bool = False
    """A source: it serves its feeds on its replay subject and may answer the requester."""
    replays_from: tuple[str, ...] = ()
    """Sources it may ask for replays besides those of the feeds it consumes (rebuilds)."""

    @property
    def inbox(self) -> str:
        return inbox_prefix(self.name)

    @property
    def publish_allow(self) -> tuple[str, ...]:
        return (
            *self.emits,
            *(subject for spec in self.consumes for subject in consuming(spec)),
            *self.replays_requested,
            *(subject for stream in self.manages for subject in managing(stream)),
        )

    @property
    def replays_requested(self) -> tuple[str, ...]:
        """The replay subjects of the sources behind the feeds it consumes."""
        sources = {feed.split(".", 1)[0] for spec in self.consumes for feed in spec.feeds}
        sources.update(self.replays_from)
        return tuple(replay_subject(source) for source in sorted(sources))

    @property
    def subscribe_allow(self) -> tuple[str, ...]:
        served = (replay_subject(self.name),) if self.answers_replays else ()
        return (f"{self.inbox}.>", *served)

    @property
    def allow_responses(self) -> bool:
        """Replying to a request it received (and only to that) needs the server's leave."""
        return self.answers_replays


TICKETS_USER = BusUser(
    name="tickets",
    emits=(subject_pattern("tickets"),),
    consumes=(TICKETS_UNITS,),
    answers_replays=True,
)
LEDGER_USER = BusUser(
    name="ledger", consumes=(LEDGER_WISHES, LEDGER_TICKETS, LEDGER_DISPUTES, LEDGER_VISITS)
)
MATCHING_USER = BusUser(
    name="matching",
    emits=(subject_pattern("matching"),),
    consumes=(MATCHING_WISHES, MATCHING_TICKETS),
    answers_replays=True,
)
NOTIFY_USER = BusUser(name="notify", emits=(subject_pattern("notify"),))
OPERATOR_USER = BusUser(name="operator", manages=STREAMS, replays_from=("tickets", "matching"))
"""`shiliu provision`, `status` and `rebuild-ledger`: runs the topology, replays sources for a
rebuild, publishes no events."""

BUS_USERS: tuple[BusUser, ...] = (
    TICKETS_USER,
    LEDGER_USER,
    MATCHING_USER,
    NOTIFY_USER,
    OPERATOR_USER,
)


def bus_user(name: str) -> BusUser:
    for user in BUS_USERS:
        if user.name == name:
            return user
    msg = f"no bus user {name!r}; one of {[user.name for user in BUS_USERS]}"
    raise KeyError(msg)
