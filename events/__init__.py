"""Shiliu's integration contracts: pydantic models, enums and subject names only."""

from events.envelope import Actor, IntegrationEvent, Role, Territory
from events.subjects import subject_for, subject_pattern, subject_template
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

ALL_EVENTS: tuple[type[IntegrationEvent], ...] = (*WISH_EVENTS,)
"""Every integration event on the bus; each new event family is added here."""

__all__ = [
    "ALL_EVENTS",
    "CONSUMERS",
    "STREAMS",
    "WISH_EVENTS",
    "Actor",
    "AnyWishEvent",
    "ClaimMode",
    "ConsumerSpec",
    "IntegrationEvent",
    "RefusalReason",
    "RejectionReason",
    "ReleaseReason",
    "Role",
    "StreamSpec",
    "Territory",
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
