"""Sealed dispute texts: a copy per party in the vault, so erasing one party drops only theirs.

Record ids are `<dispute>:filing`, `<dispute>:session:<n>`, `<dispute>:agreement:<n>` and
`<dispute>:follow-up:<n>`. Every unmasked read logs a disclosure per party whose copy it opens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from services.runtime.commands import Caller, personal_digest
from services.runtime.personal import Disclosure, PersonalDataVault, PersonErasedError, Sealed
from services.tickets.mediation.domain import Dispute, RecordNotFoundError
from services.tickets.mediation.snapshots import AgreementRecord, DisputeSnapshot, SessionRecord


class _Party(Protocol):
    @property
    def person_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def phone(self) -> str | None: ...


class SealedRecords:
    def __init__(self, vault: PersonalDataVault | None, clock: Callable[[], datetime]) -> None:
        self.vault = vault
        self.clock = clock

    def digest(self, personal: dict[str, Any] | None) -> str | None:
        return personal_digest(self.vault, personal)

    @staticmethod
    def filing(dispute_id: UUID, parties: Sequence[_Party], summary: str) -> list[Sealed]:
        """Each party's own name and phone, and the summary, under that party's id."""
        return [
            Sealed(p.person_id, f"{dispute_id}:filing", "dispute.filing",
                   {"name": p.name, "phone": p.phone, "summary": summary})
            for p in parties
        ]  # fmt: skip

    @staticmethod
    def copies(
        dispute: DisputeSnapshot, kind: str, number: int, data: dict[str, Any]
    ) -> list[Sealed]:
        """One copy of a text per party."""
        record_id = f"{dispute.id}:{kind}:{number}"
        return [Sealed(party, record_id, f"dispute.{kind}", data) for party in dispute.parties]

    def session(
        self, dispute: Dispute, caller: Caller, number: int, reason: str | None
    ) -> SessionRecord:
        if not 1 <= number <= len(dispute.sessions):
            raise RecordNotFoundError(f"session {number}")
        mode, held_at = dispute.sessions[number - 1]
        record = SessionRecord(
            dispute_id=dispute.id, session=number, mode=mode, held_at=held_at,
            masked=reason is None,
        )  # fmt: skip
        if reason is None:
            return record
        opened = self._reveal(dispute, caller, "session", number, reason)
        return record.model_copy(update={"minutes": (opened or {}).get("minutes")})

    def agreement(self, dispute: Dispute, caller: Caller, reason: str | None) -> AgreementRecord:
        if not dispute.agreements:
            raise RecordNotFoundError("agreement")
        number = len(dispute.agreements)
        record = AgreementRecord(
            dispute_id=dispute.id, agreement=number, signed_at=dispute.agreements[-1],
            masked=reason is None,
        )  # fmt: skip
        if reason is None:
            return record
        opened = self._reveal(dispute, caller, "agreement", number, reason)
        return record.model_copy(update={"text": (opened or {}).get("text")})

    def _reveal(
        self, dispute: Dispute, caller: Caller, kind: str, number: int, reason: str
    ) -> dict[str, Any] | None:
        """Open every party's copy (each read logged); the text is gone once all are erased."""
        if self.vault is None:
            return None
        record_id = f"{dispute.id}:{kind}:{number}"
        found: dict[str, Any] | None = None
        for party in dispute.parties:
            disclosure = Disclosure(
                accessed_at=self.clock(), actor_id=caller.actor_id, role=caller.role,
                person_id=party, record_id=record_id, kind=f"dispute.{kind}", reason=reason,
                **dispute.place.__dict__,
            )  # fmt: skip
            opened = self.vault.reveal(party, record_id, disclosure)
            found = found or opened
        if found is None:
            self._raise_if_erased(dispute.parties)
        return found

    def _raise_if_erased(self, parties: Sequence[str]) -> None:
        assert self.vault is not None
        for party in parties:
            if (erased := self.vault.erasure(party)) is not None:
                raise PersonErasedError(party, erased.erased_at)
