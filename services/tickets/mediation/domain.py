"""The dispute aggregate: a case from filing through mediation to resolution or referral.

Public methods decide and raise; the `@event` methods only record, and run again on replay.
Minutes, agreements and names never enter these events: they are sealed in the vault.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from eventsourcing.domain import Aggregate, event

from events.disputes import (
    DeclineReason,
    DisputeKind,
    MediatorKind,
    Referral,
    SessionMode,
)
from services.runtime.place import Stamp
from services.tickets.mediation.errors import (
    DisputeError,
    DisputeNotFoundError,
    DisputeTransitionError,
    InvalidDisputeError,
    NotAPartyError,
    NotReadyError,
    RecordNotFoundError,
)
from services.tickets.mediation.states import DisputeState

MEDIATION_PERIOD = timedelta(days=30)
MAX_PARTIES = 10
MAX_MEDIATORS = 10
S = DisputeState

__all__ = [
    "MAX_PARTIES",
    "MEDIATION_PERIOD",
    "Dispute",
    "DisputeError",
    "DisputeNotFoundError",
    "DisputeState",
    "DisputeTransitionError",
    "InvalidDisputeError",
    "NotAPartyError",
    "NotReadyError",
    "RecordNotFoundError",
]


class Dispute(Aggregate):
    """A dispute case brought to mediation (矛盾调解), with a one-month deadline that only the
    parties together may extend."""

    @event("Filed")
    def __init__(self, *, stamp: Stamp, kind: str, parties: list[str]) -> None:
        self.place = stamp.place
        self.kind = DisputeKind(kind)
        self.parties = list(parties)
        self.state = S.FILED
        self.filed_at = stamp.occurred_at
        self.decline_reason: DeclineReason | None = None
        self.referral: Referral | None = None
        self.mediators: list[tuple[str, MediatorKind]] = []
        self.consents: list[str] = []
        self.refused_by: str | None = None
        self.sessions: list[tuple[SessionMode, datetime]] = []
        self.round_sessions = 0
        self.agreements: list[datetime] = []
        self.follow_ups = 0
        self.breaches = 0
        self.due_at: datetime | None = None
        self.breached_due: list[datetime] = []
        self.extension_due: datetime | None = None
        self.extension_consents: list[str] = []

    @classmethod
    def file(cls, *, stamp: Stamp, kind: DisputeKind, parties: list[str]) -> Dispute:
        if not 2 <= len(parties) <= MAX_PARTIES:
            raise InvalidDisputeError("parties", f"a dispute has 2–{MAX_PARTIES} parties")
        if len(set(parties)) != len(parties):
            raise InvalidDisputeError("parties", "each party appears once")
        return cls(stamp=stamp, kind=kind.value, parties=list(parties))

    # Questions

    @property
    def awaiting_consent(self) -> list[str]:
        return [p for p in self.parties if p not in self.consents]

    def _require(self, action: str, *states: DisputeState) -> None:
        if self.state not in states:
            raise DisputeTransitionError(action, self.state)

    def _require_party(self, person_id: str) -> None:
        if person_id not in self.parties:
            raise NotAPartyError(person_id, tuple(self.parties))

    # Decisions: intake

    def accept(self, stamp: Stamp) -> None:
        self._require("accept", S.FILED)
        self._accepted(due_at=stamp.occurred_at + MEDIATION_PERIOD, stamp=stamp)

    def decline(self, reason: DeclineReason, stamp: Stamp) -> None:
        self._require("decline", S.FILED)
        self._declined(reason=reason.value, stamp=stamp)

    def assign(self, mediator_id: str, kind: MediatorKind, stamp: Stamp) -> None:
        """Add a mediator; one already on the case is left as is."""
        self._require("assign a mediator to", S.MEDIATING)
        if any(m == mediator_id for m, _ in self.mediators):
            return
        if len(self.mediators) >= MAX_MEDIATORS:
            raise InvalidDisputeError("mediator_id", f"at most {MAX_MEDIATORS} mediators")
        self._mediator_assigned(mediator_id=mediator_id, mediator_kind=kind.value, stamp=stamp)

    def consent(self, party_id: str, stamp: Stamp) -> None:
        self._require("consent to mediation of", S.MEDIATING)
        self._require_party(party_id)
        if party_id not in self.consents:
            self._party_consented(party_id=party_id, stamp=stamp)

    def refuse(self, party_id: str, stamp: Stamp) -> None:
        """A refusal (even after consenting) ends mediation: only a referral remains."""
        self._require("refuse mediation of", S.MEDIATING)
        self._require_party(party_id)
        self._party_refused(party_id=party_id, stamp=stamp)

    # Decisions: mediation

    def hold_session(self, mode: SessionMode, stamp: Stamp) -> int:
        """Record a session; returns its number (from 1)."""
        self._require("hold a session on", S.MEDIATING)
        if self.awaiting_consent:
            raise NotReadyError("hold a session", "consent", tuple(self.awaiting_consent))
        if not self.mediators:
            raise NotReadyError("hold a session", "mediator")
        self._session_held(session=len(self.sessions) + 1, mode=mode.value, stamp=stamp)
        return len(self.sessions)

    def sign_agreement(self, stamp: Stamp) -> int:
        """Record a signed agreement; returns its number (a re-mediation signs a new one)."""
        self._require("sign an agreement on", S.MEDIATING)
        if not self.round_sessions:
            raise NotReadyError("sign an agreement", "session")
        self._agreement_signed(agreement=len(self.agreements) + 1, stamp=stamp)
        return len(self.agreements)

    def refer(self, to: Referral, stamp: Stamp) -> None:
        self._require("refer", S.MEDIATING, S.REFUSED)
        self._referred(to=to.value, stamp=stamp)

    def follow_up(self, holding: bool, stamp: Stamp) -> int:
        """A visit: a holding agreement resolves the case; a broken one re-opens mediation."""
        self._require("follow up on", S.AGREED)
        self._follow_up_visited(holding=holding, visit=self.follow_ups + 1, stamp=stamp)
        if holding:
            self._resolved(sessions=len(self.sessions), breaches=self.breaches, stamp=stamp)
        else:
            self._breach(stamp)
        return self.follow_ups

    def report_breach(self, stamp: Stamp) -> None:
        self._require("report a breach of", S.AGREED)
        self._breach(stamp)

    def _breach(self, stamp: Stamp) -> None:
        self._agreement_breached(due_at=stamp.occurred_at + MEDIATION_PERIOD, stamp=stamp)

    # Decisions: the deadline

    def request_extension(self, due_at: datetime, stamp: Stamp) -> None:
        """Propose a later deadline; it takes effect when every party has consented."""
        self._require("extend the deadline of", S.MEDIATING)
        assert self.due_at is not None
        if due_at <= self.due_at or due_at <= stamp.occurred_at:
            raise InvalidDisputeError("due_at", "must be later than the current deadline")
        self._extension_requested(due_at=due_at, stamp=stamp)

    def consent_to_extension(self, party_id: str, stamp: Stamp) -> None:
        self._require("consent to an extension of", S.MEDIATING)
        self._require_party(party_id)
        if self.extension_due is None:
            raise NotReadyError("consent to an extension", "extension request")
        if party_id in self.extension_consents:
            return
        self._extension_consented(party_id=party_id, stamp=stamp)
        if set(self.extension_consents) == set(self.parties):
            self._deadline_extended(due_at=self.extension_due, stamp=stamp)

    def watch(self, stamp: Stamp) -> list[str]:
        """Record a breach of the current deadline once it has passed; never twice for one
        due date. Returns what was recorded."""
        due = self.due_at
        if self.state is not S.MEDIATING or due is None or stamp.occurred_at < due:
            return []
        if due in self.breached_due:
            return []
        self._deadline_breached(due_at=due, stamp=stamp)
        return ["breached"]

    # Records

    @event("Accepted")
    def _accepted(self, due_at: datetime, stamp: Stamp) -> None:
        self.state = S.MEDIATING
        self.due_at = due_at

    @event("Declined")
    def _declined(self, reason: str, stamp: Stamp) -> None:
        self.state = S.DECLINED
        self.decline_reason = DeclineReason(reason)

    @event("MediatorAssigned")
    def _mediator_assigned(self, mediator_id: str, mediator_kind: str, stamp: Stamp) -> None:
        self.mediators = [*self.mediators, (mediator_id, MediatorKind(mediator_kind))]

    @event("PartyConsented")
    def _party_consented(self, party_id: str, stamp: Stamp) -> None:
        self.consents = [*self.consents, party_id]

    @event("PartyRefused")
    def _party_refused(self, party_id: str, stamp: Stamp) -> None:
        self.state = S.REFUSED
        self.refused_by = party_id

    @event("SessionHeld")
    def _session_held(self, session: int, mode: str, stamp: Stamp) -> None:
        self.sessions = [*self.sessions, (SessionMode(mode), stamp.occurred_at)]
        self.round_sessions += 1

    @event("AgreementSigned")
    def _agreement_signed(self, agreement: int, stamp: Stamp) -> None:
        self.state = S.AGREED
        self.agreements = [*self.agreements, stamp.occurred_at]
        self._clear_extension()

    @event("Referred")
    def _referred(self, to: str, stamp: Stamp) -> None:
        self.state = S.REFERRED
        self.referral = Referral(to)

    @event("FollowUpVisited")
    def _follow_up_visited(self, holding: bool, visit: int, stamp: Stamp) -> None:
        self.follow_ups = visit

    @event("AgreementBreached")
    def _agreement_breached(self, due_at: datetime, stamp: Stamp) -> None:
        self.state = S.MEDIATING
        self.breaches += 1
        self.due_at = due_at
        self.round_sessions = 0

    @event("ExtensionRequested")
    def _extension_requested(self, due_at: datetime, stamp: Stamp) -> None:
        self.extension_due = due_at
        self.extension_consents = []

    @event("ExtensionConsented")
    def _extension_consented(self, party_id: str, stamp: Stamp) -> None:
        self.extension_consents = [*self.extension_consents, party_id]

    @event("DeadlineExtended")
    def _deadline_extended(self, due_at: datetime, stamp: Stamp) -> None:
        self.due_at = due_at
        self._clear_extension()

    @event("DeadlineBreached")
    def _deadline_breached(self, due_at: datetime, stamp: Stamp) -> None:
        self.breached_due = [*self.breached_due, due_at]

    @event("Resolved")
    def _resolved(self, sessions: int, breaches: int, stamp: Stamp) -> None:
        self.state = S.RESOLVED

    def _clear_extension(self) -> None:
        self.extension_due = None
        self.extension_consents = []
