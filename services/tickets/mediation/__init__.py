"""Dispute mediation: cases filed, mediated with the parties' consent, followed up."""

from services.tickets.mediation.application import DisputeOutcome, MediationDesk, PartyDetails
from services.tickets.mediation.domain import Dispute, DisputeState
from services.tickets.mediation.publishing import DISPUTES

__all__ = ["DISPUTES", "Dispute", "DisputeOutcome", "DisputeState", "MediationDesk", "PartyDetails"]
