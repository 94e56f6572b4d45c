"""Stored wish events → integration events (no personal data: the resident is an id)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.envelope import IntegrationEvent
from events.wishes import (
    WishAcknowledged,
    WishClaimed,
    WishClaimRefused,
    WishClaimReleased,
    WishExpired,
    WishFulfilmentReported,
    WishFulfilmentVerified,
    WishPosted,
    WishRejected,
    WishVerified,
    WishWithdrawn,
)
from services.runtime.publishing import Publication
from services.tickets.wishes.domain import Wish

_FIELDS: dict[str, tuple[type[IntegrationEvent], Callable[[Any], dict[str, Any]]]] = {
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


WISHES = Publication(
    Wish,
    ("services.tickets.wishes.domain:Wish", "services.tickets.domain:Wish"),
    "wish_id",
    _FIELDS,
)
"""Stored first under `services.tickets.domain` (before the wishes became a peer)."""
