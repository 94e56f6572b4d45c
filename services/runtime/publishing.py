"""Stored events → integration events for the bus (the relay's translation), for every
writing service: each of its aggregates names its own `Publication`, and the service names
itself as the events' `source`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import register_topic

from events.envelope import Actor, IntegrationEvent, Role, Territory
from services.runtime.place import Stamp


class EventIds:
    """Integration event ids, keyed by the service's secret: the same stored event always
    gets the same id (a republish keeps it, and its `Nats-Msg-Id`), and nobody without the
    key can tell what id an event will get. A predictable id (a plain hash of the aggregate
    and version) let a forger on the bus publish an altered event under the genuine id first,
    and JetStream's deduplication then dropped the genuine publish as a duplicate of it."""

    def __init__(self, key: bytes) -> None:
        self._key = hmac.new(key, b"shiliu/integration-event-ids", hashlib.sha256).digest()

    def __call__(self, originator_id: UUID, version: int) -> UUID:
        name = f"{originator_id}:{version}".encode()
        digest = hmac.new(self._key, name, hashlib.sha256).digest()
        return UUID(bytes=digest[:16], version=4)


@dataclass(frozen=True)
class Publication:
    """How one aggregate's stored events become integration events."""

    aggregate: type[Aggregate]
    stored_as: tuple[str, ...]
    """Every topic (`module:Class`) the aggregate's events were stored under: stored data,
    never derived from where the class lives now. Moving the class adds its new topic and
    keeps the old ones, which `register_stored_topics` resolves to the moved class."""
    id_field: str | None
    """The integration event's field naming the aggregate (`wish_id`, `ticket_id`, …); None
    when `fields` names it (a unit is named by its code, not its aggregate id)."""
    fields: Mapping[str, tuple[type[IntegrationEvent], Callable[[Any], dict[str, Any]]]]
    """Stored event name → (integration event class, its fields from the stored event)."""


def stored_topics(publications: Sequence[Publication]) -> dict[str, Publication]:
    """Stored topic → the publication whose events are stored under it."""
    return {topic: publication for publication in publications for topic in publication.stored_as}


def register_stored_topics(publications: Sequence[Publication]) -> None:
    """Make every stored topic resolve to its aggregate class (and, through it, its events),
    so history stored under an old module path still loads and replays."""
    for topic, publication in stored_topics(publications).items():
        register_topic(topic, publication.aggregate)


def translator(
    mapper: Mapper[UUID], ids: EventIds, publications: Sequence[Publication], *, source: str
) -> Callable[[Notification], IntegrationEvent | None]:
    """Translate a service's log; what no publication publishes (receipts, rules) is skipped."""
    register_stored_topics(publications)
    by_prefix = {
        f"{topic}.": publication for topic, publication in stored_topics(publications).items()
    }

    def translate(notification: Notification) -> IntegrationEvent | None:
        prefix, _, name = notification.topic.rpartition(".")
        publication = by_prefix.get(prefix + ".")
        if publication is None or name not in publication.fields:
            return None
        domain_event = mapper.to_domain_event(notification)
        return to_integration_event(
            domain_event, publication, name, notification.id, ids, source=source
        )

    return translate


def to_integration_event(
    domain_event: DomainEventProtocol[UUID],
    publication: Publication,
    name: str,
    position: int,
    ids: EventIds,
    *,
    source: str,
) -> IntegrationEvent:
    assert isinstance(domain_event, Aggregate.Event)
    event_class, fields = publication.fields[name]
    stamp: Stamp = getattr(domain_event, "stamp")  # noqa: B009 - every published event has one
    place = stamp.place
    return event_class(
        event_id=ids(domain_event.originator_id, domain_event.originator_version),
        occurred_at=stamp.occurred_at,
        recorded_at=domain_event.timestamp,
        territory=Territory(
            district=place.district, street=place.street, community=place.community,
            grid=place.grid,
        ),
        actor=Actor(id=stamp.actor_id, role=Role(stamp.actor_role)),
        on_behalf_of=stamp.on_behalf_of,
        correlation_id=stamp.correlation_id,
        causation_id=stamp.causation_id,
        source=source,
        position=position,
        **({publication.id_field: domain_event.originator_id} if publication.id_field else {}),
        **fields(domain_event),
    )  # fmt: skip
