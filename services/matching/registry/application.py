"""The registry's commands: load, decide, save on the matching store (its command loop); and
a unit's contact, masked unless revealed for a logged reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from pydantic import BaseModel

from events.units import AgreementEnd, DepartureReason, SuspensionReason, UnitKind
from services.matching.registry.domain import (
    AgreementState,
    Membership,
    Unit,
    UnitAlreadyRegisteredError,
    UnitNotFoundError,
    unit_key,
)
from services.runtime.commands import Caller
from services.runtime.masking import mask_name, mask_phone
from services.runtime.personal import Disclosure, PersonalDataVault, Sealed
from services.runtime.place import Place, Stamp
from services.runtime.stamping import StampedCommands

CONTACT = "unit.contact"
"""The kind of a unit's sealed contact record."""


def contact_holder(unit_id: str) -> str:
    """Whose key seals a unit's contact: the unit's contact person, whoever it is now."""
    return f"unit-contact:{unit_id}"


class UnitSnapshot(BaseModel):
    """A unit as the registry shows it to everyone: no contact."""

    unit_id: str
    name: str
    kind: UnitKind
    district: str
    street: str
    community: str
    grid: str | None
    membership: Membership
    agreement: AgreementState
    agreement_starts: date | None
    agreement_ends: date | None
    registered_at: datetime
    version: int

    @classmethod
    def of(cls, unit: Unit) -> UnitSnapshot:
        place = unit.place
        return cls(
            unit_id=unit.unit_id, name=unit.name, kind=unit.kind, district=place.district,
            street=place.street, community=place.community, grid=place.grid,
            membership=unit.membership, agreement=unit.agreement,
            agreement_starts=unit.agreement_starts, agreement_ends=unit.agreement_ends,
            registered_at=unit.registered_at, version=unit.version,
        )  # fmt: skip


class UnitOutcome(BaseModel):
    unit: UnitSnapshot
    position: int = 0
    """The notification id of the last event saved, for read-your-writes on the lists."""


class UnitContactCard(BaseModel):
    """A unit's contact person: masked, unless revealed for a reason that was logged."""

    unit_id: str
    masked: bool
    name: str | None = None
    phone: str | None = None
    role: str | None = None


class UnitRegistry:
    """Registers member units and keeps their alliance membership and agreements."""

    def __init__(self, commands: StampedCommands, vault: PersonalDataVault | None) -> None:
        self.commands = commands
        self.vault = vault

    def register(
        self,
        caller: Caller,
        *,
        place: Place,
        unit_id: str,
        name: str,
        kind: UnitKind,
        contact: dict[str, Any] | None,
    ) -> UnitOutcome:
        """Register a unit under a code nobody holds yet (`UnitAlreadyRegisteredError`)."""

        def decide() -> tuple[list[Aggregate], UnitOutcome]:
            if self._exists(unit_id):
                raise UnitAlreadyRegisteredError(unit_id)
            stamp = self.commands.stamp(caller, place, None)
            unit = Unit.register(unit_id=unit_id, name=name, kind=kind, stamp=stamp)
            return [unit], UnitOutcome(unit=UnitSnapshot.of(unit))

        payload = {"unit_id": unit_id, "name": name, "kind": kind, "place": place.__dict__,
                   "contact": self._digest(contact)}  # fmt: skip
        return self.commands.run(
            caller, "register_unit", payload, decide, UnitOutcome, lock=unit_key(unit_id),
            seal=lambda _: self._sealed(unit_id, contact),
        )  # fmt: skip

    def change_details(
        self, caller: Caller, unit_id: str, name: str, kind: UnitKind
    ) -> UnitOutcome:
        return self._change(caller, unit_id, "change_unit_details", {"name": name, "kind": kind},
                            lambda u, s: u.change_details(name, kind, s))  # fmt: skip

    def change_contact(self, caller: Caller, unit_id: str, contact: dict[str, Any]) -> UnitOutcome:
        """Replace the unit's contact person (sealed; nothing goes on the bus)."""

        def decide() -> tuple[list[Aggregate], UnitOutcome]:
            unit = self._load(unit_id)
            unit.change_contact(self.commands.stamp(caller, unit.place, None))
            return [unit], UnitOutcome(unit=UnitSnapshot.of(unit))

        payload = {"unit_id": unit_id, "contact": self._digest(contact)}
        return self.commands.run(
            caller, "change_unit_contact", payload, decide, UnitOutcome,
            lock=unit_key(unit_id), seal=lambda _: self._sealed(unit_id, contact),
        )  # fmt: skip

    def join_alliance(self, caller: Caller, unit_id: str) -> UnitOutcome:
        return self._change(caller, unit_id, "enrol_unit", {}, lambda u, s: u.join_alliance(s))

    def suspend(self, caller: Caller, unit_id: str, reason: SuspensionReason) -> UnitOutcome:
        return self._change(caller, unit_id, "suspend_unit", {"reason": reason},
                            lambda u, s: u.suspend(reason, s))  # fmt: skip

    def reinstate(self, caller: Caller, unit_id: str) -> UnitOutcome:
        return self._change(caller, unit_id, "reinstate_unit", {}, lambda u, s: u.reinstate(s))

    def leave(self, caller: Caller, unit_id: str, reason: DepartureReason) -> UnitOutcome:
        return self._change(caller, unit_id, "remove_unit", {"reason": reason},
                            lambda u, s: u.leave(reason, s))  # fmt: skip

    def sign_agreement(
        self, caller: Caller, unit_id: str, starts_on: date, ends_on: date
    ) -> UnitOutcome:
        payload = {"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()}
        return self._change(caller, unit_id, "sign_agreement", payload,
                            lambda u, s: u.sign_agreement(starts_on, ends_on, s))  # fmt: skip

    def renew_agreement(self, caller: Caller, unit_id: str, ends_on: date) -> UnitOutcome:
        return self._change(caller, unit_id, "renew_agreement", {"ends_on": ends_on.isoformat()},
                            lambda u, s: u.renew_agreement(ends_on, s))  # fmt: skip

    def end_agreement(self, caller: Caller, unit_id: str, how: AgreementEnd) -> UnitOutcome:
        return self._change(caller, unit_id, "end_agreement", {"how": how},
                            lambda u, s: u.end_agreement(how, s))  # fmt: skip

    def get(self, unit_id: str) -> UnitSnapshot:
        return UnitSnapshot.of(self._load(unit_id))

    def unit(self, unit_id: str) -> Unit:
        return self._load(unit_id)

    def contact_of(self, caller: Caller, unit_id: str, *, reason: str | None) -> UnitContactCard:
        """The unit's contact, masked; with a reason, revealed and logged (the caller's right
        to reveal is checked before this)."""
        unit = self._load(unit_id)
        if caller.guard is not None:
            caller.guard(unit.place, "")
        holder = contact_holder(unit_id)
        if self.vault is None:
            return UnitContactCard(unit_id=unit_id, masked=reason is None)
        if reason is None:
            contact = self.vault.get(holder, unit_id)
        else:
            disclosure = Disclosure(
                accessed_at=self.commands.clock(), actor_id=caller.actor_id, role=caller.role,
                person_id=holder, record_id=unit_id, kind=CONTACT, reason=reason,
                **unit.place.__dict__,
            )  # fmt: skip
            contact = self.vault.reveal(holder, unit_id, disclosure)
        return _card(unit_id, contact or {}, masked=reason is None)

    def _exists(self, unit_id: str) -> bool:
        try:
            self.commands.app.repository.get(unit_key(unit_id))
        except AggregateNotFoundError:
            return False
        return True

    def _load(self, unit_id: str) -> Unit:
        return self.commands.load(unit_key(unit_id), Unit, lambda _: UnitNotFoundError(unit_id))

    def _digest(self, contact: dict[str, Any] | None) -> str | None:
        if not contact:
            return None
        if self.vault is None:
            msg = "a unit's contact needs the vault (configure the master key)"
            raise ValueError(msg)
        return self.vault.digest(contact)

    def _sealed(self, unit_id: str, contact: dict[str, Any] | None) -> list[Sealed]:
        return [Sealed(contact_holder(unit_id), unit_id, CONTACT, contact)] if contact else []

    def _change(
        self,
        caller: Caller,
        unit_id: str,
        command: str,
        payload: dict[str, Any],
        decide: Callable[[Unit, Stamp], None],
    ) -> UnitOutcome:
        def attempt() -> tuple[list[Aggregate], UnitOutcome]:
            unit = self._load(unit_id)
            decide(unit, self.commands.stamp(caller, unit.place, None))
            return [unit], UnitOutcome(unit=UnitSnapshot.of(unit))

        payload = {"unit_id": unit_id, **payload}
        return self.commands.run(
            caller, command, payload, attempt, UnitOutcome, lock=unit_key(unit_id)
        )


def _card(unit_id: str, contact: dict[str, Any], *, masked: bool) -> UnitContactCard:
    def shown(field: str, mask: Callable[[str], str]) -> str | None:
        value = contact.get(field)
        return mask(value) if masked and isinstance(value, str) else value

    return UnitContactCard(
        unit_id=unit_id, masked=masked, name=shown("name", mask_name),
        phone=shown("phone", mask_phone), role=None if masked else contact.get("role"),
    )  # fmt: skip
