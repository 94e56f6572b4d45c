"""Bus wiring: the broker factory and the one owner of streams and consumers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import nats
from faststream.nats import NatsBroker
from faststream.nats.security import NatsUserPassword
from nats.aio.client import DEFAULT_INBOX_PREFIX
from nats.js import JetStreamContext
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from events.topology import CONSUMERS, STREAMS, ConsumerSpec, StreamSpec
from services.runtime.settings import BusSettings

log = logging.getLogger(__name__)


def make_broker(bus: BusSettings, *, name: str) -> NatsBroker:
    """A broker that reconnects forever (nats-py otherwise gives up after ~2 minutes)."""
    auth = bus.auth_options()
    return NatsBroker(
        bus.servers,
        name=name,
        security=NatsUserPassword(auth["user"], auth["password"]) if bus.user else None,
        inbox_prefix=auth.get("inbox_prefix", DEFAULT_INBOX_PREFIX),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=int(bus.connect_timeout_seconds),
        allow_reconnect=True,
        log_level=logging.DEBUG,
    )


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        duplicate_window=spec.duplicate_window_seconds,
        max_age=spec.max_age_days * 86400,
        num_replicas=replicas,
    )


def consumer_config(spec: ConsumerSpec) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=spec.durable,
        filter_subject=spec.filter_subject,
        ack_policy=JsAckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=spec.ack_wait_seconds,
        max_deliver=spec.max_deliver,
        backoff=list(spec.backoff_seconds),
        max_ack_pending=spec.max_ack_pending,
    )


@dataclass(frozen=True)
class Drift:
    """A stream or consumer on the server whose settings differ from the declaration."""

    kind: str
    name: str
    field: str
    declared: object
    actual: object


async def provision(bus: BusSettings, *, migrate: bool = False, replicas: int = 1) -> list[Drift]:
    """Create missing streams and consumers; report (or, with `migrate`, update) drifted ones.

    `replicas` is the deployment's choice: 1 on the embedded server, 3 on a cluster.
    """
    client = await nats.connect(
        servers=bus.servers, connect_timeout=int(bus.connect_timeout_seconds), **bus.auth_options()
    )
    try:
        js = client.jetstream()
        drifts: list[Drift] = []
        for stream in STREAMS:
            drifts += await _provision_stream(js, stream, migrate=migrate, replicas=replicas)
        for consumer in CONSUMERS:
            drifts += await _provision_consumer(js, consumer, migrate=migrate)
        return drifts
    finally:
        await client.drain()


async def _provision_stream(
    js: JetStreamContext, spec: StreamSpec, *, migrate: bool, replicas: int
) -> list[Drift]:
    wanted = stream_config(spec, replicas)
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(wanted)
        log.info("created stream %s", spec.name)
        return []
    actual = info.config
    drifts = [
        Drift("stream", spec.name, field, getattr(wanted, field), getattr(actual, field))
        for field in ("subjects", "duplicate_window", "max_age", "num_replicas")
        if _differs(getattr(wanted, field), getattr(actual, field))
    ]
    if drifts and migrate:
        await js.update_stream(wanted)
        return []
    return drifts


async def _provision_consumer(
    js: JetStreamContext, spec: ConsumerSpec, *, migrate: bool
) -> list[Drift]:
    wanted = consumer_config(spec)
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        await js.add_consumer(spec.stream, wanted)
        log.info("created consumer %s on %s", spec.durable, spec.stream)
        return []
    actual = info.config
    fields = ("filter_subject", "ack_wait", "max_deliver", "backoff", "max_ack_pending")
    drifts = [
        Drift("consumer", spec.durable, field, getattr(wanted, field), getattr(actual, field))
        for field in fields
        if _differs(getattr(wanted, field), getattr(actual, field))
    ]
    if drifts and migrate:
        await js.add_consumer(spec.stream, wanted)
        return []
    return drifts


def _differs(wanted: object, actual: object) -> bool:
    if isinstance(wanted, float | int) and isinstance(actual, float | int):
        return abs(float(wanted) - float(actual)) > 1e-6
    if isinstance(wanted, list) and isinstance(actual, list):
        return len(wanted) != len(actual) or any(
            _differs(w, a) for w, a in zip(wanted, actual, strict=True)
        )
    return wanted != actual
