"""Stored dispute events → integration events (ids, kinds, counts and times only).

The extension request and each party's consent to it stay in the store; the bus hears of the
extension once every party has consented (`DisputeDeadlineExtended`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.disputes import (
    AgreementBreached,
    AgreementSigned,
    DisputeAccepted,
    DisputeDeadlineBreached,
    DisputeDeadlineExtended,
    DisputeDeclined,
    DisputeFiled,
    DisputeReferred,
    DisputeResolved,
    FollowUpVisited,
    MediationSessionHeld,
    MediatorAssigned,
    PartyConsented,
    PartyRefused,
)
from events.envelope import IntegrationEvent
from services.runtime.publishing import Publication
from services.tickets.mediation.domain import Dispute

Fields = dict[str, tuple[type[IntegrationEvent], Callable[[Any], dict[str, Any]]]]


def _due(e: Any) -> dict[str, Any]:
    return {"due_at": e.due_at}


FIELDS: Fields = {
    "Filed": (DisputeFiled, lambda e: {"kind": e.kind, "parties": e.parties}),
    "Accepted": (DisputeAccepted, _due),
    "Declined": (DisputeDeclined, lambda e: {"reason": e.reason}),
    "MediatorAssigned": (
        MediatorAssigned,
        lambda e: {"mediator_id": e.mediator_id, "mediator_kind": e.mediator_kind},
    ),
    "PartyConsented": (PartyConsented, lambda e: {"party_id": e.party_id}),
    "PartyRefused": (PartyRefused, lambda e: {"party_id": e.party_id}),
    "SessionHeld": (MediationSessionHeld, lambda e: {"session": e.session, "mode": e.mode}),
    "AgreementSigned": (AgreementSigned, lambda e: {}),
    "Referred": (DisputeReferred, lambda e: {"to": e.to}),
    "FollowUpVisited": (FollowUpVisited, lambda e: {"holding": e.holding}),
    "AgreementBreached": (AgreementBreached, _due),
    "DeadlineExtended": (DisputeDeadlineExtended, _due),
    "DeadlineBreached": (DisputeDeadlineBreached, _due),
    "Resolved": (DisputeResolved, lambda e: {"sessions": e.sessions, "breaches": e.breaches}),
}

DISPUTES = Publication(
    Dispute, ("services.tickets.mediation.domain:Dispute",), "dispute_id", FIELDS
)
