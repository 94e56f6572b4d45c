"""Shiliu's integration contracts: pydantic models, enums and subject names only."""

from events.disputes import DISPUTE_EVENTS, AnyDisputeEvent, DisputeEvent, DisputeResolved
from events.envelope import Actor, IntegrationEvent, Role, Territory
from events.subjects import subject_for, subject_pattern, subject_template
from events.tickets import TICKET_EVENTS, AnyTicketEvent, TicketEvent, VisitRecorded
from events.topology import CONSUMERS, STREAMS, ConsumerSpec, StreamSpec
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
)
"""Every integration event on the bus; each new event family is added here."""

__all__ = [
    "ALL_EVENTS",
    "CONSUMERS",
    "DISPUTE_EVENTS",
    "STREAMS",
    "TICKET_EVENTS",
    "WISH_EVENTS",
    "Actor",
    "AnyDisputeEvent",
    "AnyTicketEvent",
    "AnyWishEvent",
    "ClaimMode",
    "ConsumerSpec",
    "DisputeEvent",
    "DisputeResolved",
    "IntegrationEvent",
    "RefusalReason",
    "RejectionReason",
    "ReleaseReason",
    "Role",
    "StreamSpec",
    "Territory",
    "TicketEvent",
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
