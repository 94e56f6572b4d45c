"""The mediation desk's command handlers, on the tickets store's command loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.disputes import DeclineReason, DisputeKind, MediatorKind, Referral, SessionMode
from services.runtime.commands import Caller
from services.runtime.personal import PersonalDataVault, Sealed
from services.runtime.place import Place, Stamp
from services.runtime.stamping import StampedCommands
from services.tickets.atlas import Atlas
from services.tickets.mediation.domain import Dispute, DisputeNotFoundError
from services.tickets.mediation.records import SealedRecords
from services.tickets.mediation.snapshots import (
    AgreementRecord,
    DisputeOutcome,
    DisputeSnapshot,
    SessionRecord,
)

Decide = Callable[[Dispute, Stamp], object]

__all__ = ["DisputeOutcome", "DisputeSnapshot", "MediationDesk", "PartyDetails"]


@dataclass(frozen=True)
class PartyDetails:
    """A party as filed: the id goes into events, the name and phone into the vault."""

    person_id: str
    name: str
    phone: str | None = None


class MediationDesk:
    """Files, mediates and follows up disputes; their texts are sealed per party."""

    def __init__(
        self, commands: StampedCommands, atlas: Atlas, vault: PersonalDataVault | None
    ) -> None:
        self.commands = commands
        self.atlas = atlas
        self.records = SealedRecords(vault, commands.clock)

    # Intake

    def file(
        self,
        caller: Caller,
        *,
        place: Place,
        kind: DisputeKind,
        parties: list[PartyDetails],
        summary: str,
    ) -> DisputeOutcome:
        """File a case where the territory has its community (and grid), UnknownPlaceError
        otherwise; the first party is the applicant (a resident files only as that)."""
        self.atlas.locate(place.district, place.community, place.grid, street=place.street)
        ids = [p.person_id for p in parties]
        personal = {"parties": [p.__dict__ for p in parties], "summary": summary}
        payload = {"place": place.__dict__, "kind": kind, "parties": ids,
                   "personal": self.records.digest(personal)}  # fmt: skip

        def decide() -> tuple[list[Aggregate], DisputeOutcome]:
            stamp = self.commands.stamp(caller, place, ids[0] if ids else None)
            dispute = Dispute.file(stamp=stamp, kind=kind, parties=ids)
            return [dispute], DisputeOutcome(dispute=DisputeSnapshot.of(dispute))

        def seal(outcome: DisputeOutcome) -> list[Sealed]:
            return self.records.filing(outcome.dispute.id, parties, summary)

        return self.commands.run(caller, "file_dispute", payload, decide, DisputeOutcome, seal=seal)

    def accept(self, caller: Caller, dispute_id: UUID) -> DisputeOutcome:
        return self._change(caller, dispute_id, "accept_dispute", {}, lambda d, s: d.accept(s))

    def decline(self, caller: Caller, dispute_id: UUID, reason: DeclineReason) -> DisputeOutcome:
        return self._change(
            caller, dispute_id, "decline_dispute", {"reason": reason},
            lambda d, s: d.decline(reason, s),
        )  # fmt: skip

    def assign(
        self, caller: Caller, dispute_id: UUID, mediator_id: str, kind: MediatorKind
    ) -> DisputeOutcome:
        return self._change(
            caller, dispute_id, "assign_mediator", {"mediator_id": mediator_id, "kind": kind},
            lambda d, s: d.assign(mediator_id, kind, s),
        )  # fmt: skip

    def consent(self, caller: Caller, dispute_id: UUID, party_id: str) -> DisputeOutcome:
        return self._change(
            caller, dispute_id, "consent_to_mediation", {"party_id": party_id},
            lambda d, s: d.consent(party_id, s), person=party_id,
        )  # fmt: skip

    def refuse(self, caller: Caller, dispute_id: UUID, party_id: str) -> DisputeOutcome:
        return self._change(
            caller, dispute_id, "refuse_mediation", {"party_id": party_id},
            lambda d, s: d.refuse(party_id, s), person=party_id,
        )  # fmt: skip

    # Mediation

    def hold_session(
        self, caller: Caller, dispute_id: UUID, mode: SessionMode, minutes: str
    ) -> DisputeOutcome:
        payload = {"mode": mode, "minutes": self.records.digest({"minutes": minutes})}

        def seal(outcome: DisputeOutcome) -> list[Sealed]:
            number = outcome.dispute.sessions[-1].session
            return self.records.copies(outcome.dispute, "session", number, {"minutes": minutes})

        return self._change(
            caller, dispute_id, "hold_session", payload, lambda d, s: d.hold_session(mode, s),
            seal=seal,
        )  # fmt: skip

    def sign_agreement(self, caller: Caller, dispute_id: UUID, text: str) -> DisputeOutcome:
        payload = {"text": self.records.digest({"text": text})}

        def seal(outcome: DisputeOutcome) -> list[Sealed]:
            number = outcome.dispute.agreements
            return self.records.copies(outcome.dispute, "agreement", number, {"text": text})

        return self._change(
            caller, dispute_id, "sign_agreement", payload, lambda d, s: d.sign_agreement(s),
            seal=seal,
        )  # fmt: skip

    def refer(self, caller: Caller, dispute_id: UUID, to: Referral) -> DisputeOutcome:
        return self._change(
            caller, dispute_id, "refer_dispute", {"to": to}, lambda d, s: d.refer(to, s)
        )

    def follow_up(
        self, caller: Caller, dispute_id: UUID, holding: bool, notes: str | None = None
    ) -> DisputeOutcome:
        personal = {"notes": notes} if notes else None
        payload = {"holding": holding, "notes": self.records.digest(personal)}

        def seal(outcome: DisputeOutcome) -> list[Sealed]:
            if not personal:
                return []
            number = outcome.dispute.follow_ups
            return self.records.copies(outcome.dispute, "follow-up", number, personal)

        return self._change(
            caller, dispute_id, "follow_up_dispute", payload,
            lambda d, s: d.follow_up(holding, s), seal=seal,
        )  # fmt: skip

    def report_breach(self, caller: Caller, dispute_id: UUID) -> DisputeOutcome:
        return self._change(
            caller, dispute_id, "report_breach", {}, lambda d, s: d.report_breach(s)
        )

    # The deadline

    def request_extension(
        self, caller: Caller, dispute_id: UUID, due_at: datetime
    ) -> DisputeOutcome:
        return self._change(
            caller, dispute_id, "request_extension", {"due_at": due_at.isoformat()},
            lambda d, s: d.request_extension(due_at, s),
        )  # fmt: skip

    def consent_to_extension(
        self, caller: Caller, dispute_id: UUID, party_id: str
    ) -> DisputeOutcome:
        return self._change(
            caller, dispute_id, "consent_to_extension", {"party_id": party_id},
            lambda d, s: d.consent_to_extension(party_id, s), person=party_id,
        )  # fmt: skip

    def watch_deadline(self, caller: Caller, dispute_id: UUID) -> list[str]:
        """Record a deadline breach if one is due (the scheduler's command)."""
        recorded: list[str] = []

        def decide() -> tuple[list[Aggregate], DisputeOutcome]:
            dispute = self._load(dispute_id)
            recorded[:] = dispute.watch(self._stamp(caller, dispute, None))
            pending: list[Aggregate] = [dispute] if recorded else []
            return pending, DisputeOutcome(dispute=DisputeSnapshot.of(dispute))

        payload = {"dispute_id": str(dispute_id)}
        self.commands.run(
            caller, "watch_dispute_deadline", payload, decide, DisputeOutcome, lock=dispute_id
        )
        return list(recorded)

    # Queries

    def get_dispute(self, caller: Caller, dispute_id: UUID) -> DisputeSnapshot:
        return DisputeSnapshot.of(self._guarded(caller, dispute_id))

    def session_record(
        self, caller: Caller, dispute_id: UUID, session: int, *, reason: str | None
    ) -> SessionRecord:
        """A session's metadata; with a reason, its minutes too (each party's copy logged)."""
        return self.records.session(self._guarded(caller, dispute_id), caller, session, reason)

    def agreement_record(
        self, caller: Caller, dispute_id: UUID, *, reason: str | None
    ) -> AgreementRecord:
        """The latest agreement's metadata; with a reason, its text too (logged)."""
        return self.records.agreement(self._guarded(caller, dispute_id), caller, reason)

    # Machinery

    def _load(self, dispute_id: UUID) -> Dispute:
        return self.commands.load(dispute_id, Dispute, DisputeNotFoundError)

    def _guarded(self, caller: Caller, dispute_id: UUID) -> Dispute:
        dispute = self._load(dispute_id)
        if caller.guard is not None:
            caller.guard(dispute.place, dispute.parties[0])
        return dispute

    def _stamp(self, caller: Caller, dispute: Dispute, person: str | None) -> Stamp:
        """The guard sees the acting party (consents) or else the applicant."""
        return self.commands.stamp(caller, dispute.place, person or dispute.parties[0])

    def _change(
        self,
        caller: Caller,
        dispute_id: UUID,
        command: str,
        payload: dict[str, Any],
        decide: Decide,
        *,
        person: str | None = None,
        seal: Callable[[DisputeOutcome], Sequence[Sealed]] | None = None,
    ) -> DisputeOutcome:
        def attempt() -> tuple[list[Aggregate], DisputeOutcome]:
            dispute = self._load(dispute_id)
            decide(dispute, self._stamp(caller, dispute, person))
            return [dispute], DisputeOutcome(dispute=DisputeSnapshot.of(dispute))

        payload = {"dispute_id": str(dispute_id), **payload}
        return self.commands.run(
            caller, command, payload, attempt, DisputeOutcome, lock=dispute_id, seal=seal
        )
