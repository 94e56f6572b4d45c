"""Stored wish events → integration events for the bus (the relay's translation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import Mapper, Notification

from events.envelope import Actor, IntegrationEvent, Role, Territory
from events.wishes import (
    WishAcknowledged,
    WishClaimed,
    WishClaimRefused,
    WishClaimReleased,
    WishEvent,
    WishExpired,
    WishFulfilmentReported,
    WishFulfilmentVerified,
    WishPosted,
    WishRejected,
    WishVerified,
    WishWithdrawn,
)
from services.tickets.domain import Stamp, Wish

SOURCE = "tickets"
_EVENT_IDS = uuid5(NAMESPACE_URL, "https://shiliu.invalid/events")
_WISH_TOPIC_PREFIX = f"{Wish.__module__}:{Wish.__qualname__}."


def event_id(originator_id: UUID, version: int) -> UUID:
    """Deterministic, so a republished event keeps its id (and its `Nats-Msg-Id`)."""
    return uuid5(_EVENT_IDS, f"{originator_id}:{version}")


_FIELDS: dict[str, tuple[type[WishEvent], Callable[[Any], dict[str, Any]]]] = {
    "Posted": (
        WishPosted,
        lambda e: {
            "resident_id": e.resident_id,
            "title": e.title,
            "category": e.category,
            "claim_mode": e.claim_mode,
            "quota": e.quota,
            "expires_at": e.expires_at,
        },
    ),
    "Verified": (WishVerified, lambda e: {}),
    "Rejected": (WishRejected, lambda e: {"reason": e.reason}),
    "Claimed": (
        WishClaimed,
        lambda e: {
            "unit_id": e.unit_id,
            "claimants": e.claimants,
            "quota": e.quota,
            "claim_mode": e.claim_mode,
        },
    ),
    "ClaimRefused": (
        WishClaimRefused,
        lambda e: {
            "unit_id": e.unit_id,
            "reason": e.reason,
            "current_claimants": e.current_claimants,
        },
    ),
    "ClaimReleased": (
        WishClaimReleased,
        lambda e: {"unit_id": e.unit_id, "reason": e.reason, "claimants": e.claimants},
    ),
    "FulfilmentReported": (WishFulfilmentReported, lambda e: {"unit_id": e.unit_id}),
    "FulfilmentVerified": (WishFulfilmentVerified, lambda e: {}),
    "Acknowledged": (WishAcknowledged, lambda e: {"rating": e.rating}),
    "Withdrawn": (WishWithdrawn, lambda e: {"reason": e.reason}),
    "Expired": (WishExpired, lambda e: {}),
}


def translator(mapper: Mapper[UUID]) -> Callable[[Notification], IntegrationEvent | None]:
    """Translate the tickets log; anything that is not a wish fact (receipts) is skipped."""

    def translate(notification: Notification) -> IntegrationEvent | None:
        if not notification.topic.startswith(_WISH_TOPIC_PREFIX):
            return None
        name = notification.topic.removeprefix(_WISH_TOPIC_PREFIX)
        if name not in _FIELDS:
            return None
        return to_integration_event(mapper.to_domain_event(notification), name, notification.id)

    return translate


def to_integration_event(
    domain_event: DomainEventProtocol[UUID], name: str, position: int
) -> IntegrationEvent:
    assert isinstance(domain_event, Aggregate.Event)
    event_class, fields = _FIELDS[name]
    stamp: Stamp = getattr(domain_event, "stamp")  # noqa: B009 - every wish event has one
    place = stamp.place
    return event_class(
        event_id=event_id(domain_event.originator_id, domain_event.originator_version),
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
        source=SOURCE,
        position=position,
        wish_id=domain_event.originator_id,
        **fields(domain_event),
    )  # fmt: skip
