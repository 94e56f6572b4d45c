"""Shiliu's integration contracts: pydantic models, enums and subject names only."""

from events.disputes import DISPUTE_EVENTS, AnyDisputeEvent, DisputeEvent, DisputeResolved
from events.envelope import Actor, IntegrationEvent, Role, Territory
from events.listings import LISTING_EVENTS, AnyListingEvent, ListingEvent, Side
from events.matches import MATCH_EVENTS, AnyMatchEvent, MatchEvent
from events.subjects import subject_for, subject_pattern, subject_template
from events.taxonomy import ServiceCategory
from events.tickets import TICKET_EVENTS, AnyTicketEvent, TicketEvent, VisitRecorded
from events.topology import CONSUMERS, STREAMS, ConsumerSpec, StreamSpec
from events.units import UNIT_EVENTS, AnyUnitEvent, UnitEvent, UnitKind
from events.wishes import (
    WISH_EVENTS,
    AnyWishEvent,
    ClaimMode,
    RefusalReason,
    RejectionReason,
    ReleaseReason,
    WishAcknowledged,
    WishCategory,
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
    WithdrawalReason,
)

ALL_EVENTS: tuple[type[IntegrationEvent], ...] = (
    *WISH_EVENTS,
    *TICKET_EVENTS,
    VisitRecorded,
    *DISPUTE_EVENTS,
    *UNIT_EVENTS,
    *LISTING_EVENTS,
    *MATCH_EVENTS,
)
"""Every integration event on the bus; each new event family is added here."""

__all__ = [
    "ALL_EVENTS",
    "CONSUMERS",
    "DISPUTE_EVENTS",
    "LISTING_EVENTS",
    "MATCH_EVENTS",
    "STREAMS",
    "TICKET_EVENTS",
    "UNIT_EVENTS",
    "WISH_EVENTS",
    "Actor",
    "AnyDisputeEvent",
    "AnyListingEvent",
    "AnyMatchEvent",
    "AnyTicketEvent",
    "AnyUnitEvent",
    "AnyWishEvent",
    "ClaimMode",
    "ConsumerSpec",
    "DisputeEvent",
    "DisputeResolved",
    "IntegrationEvent",
    "ListingEvent",
    "MatchEvent",
    "RefusalReason",
    "RejectionReason",
    "ReleaseReason",
    "Role",
    "ServiceCategory",
    "Side",
    "StreamSpec",
    "Territory",
    "TicketEvent",
    "UnitEvent",
    "UnitKind",
    "VisitRecorded",
    "WishAcknowledged",
    "WishCategory",
    "WishClaimRefused",
    "WishClaimReleased",
    "WishClaimed",
    "WishEvent",
    "WishExpired",
    "WishFulfilmentReported",
    "WishFulfilmentVerified",
    "WishPosted",
    "WishRejected",
    "WishVerified",
    "WishWithdrawn",
    "WithdrawalReason",
    "subject_for",
    "subject_pattern",
    "subject_template",
]
