"""A dispute's states."""

from __future__ import annotations

from enum import StrEnum


class DisputeState(StrEnum):
    FILED = "filed"
    DECLINED = "declined"
    MEDIATING = "mediating"
    """Accepted: mediation under way, against the deadline."""
    REFUSED = "refused"
    """A party refused mediation: the case can only be referred."""
    AGREED = "agreed"
    """An agreement was signed; follow-up visits check that it holds."""
    REFERRED = "referred"
    RESOLVED = "resolved"
