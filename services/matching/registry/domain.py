"""A member unit (驻区单位): a school, company or station in a community's area, its alliance
membership (红石榴联盟) and its co-building agreement (共建协议).

Public methods decide and raise; the `@event` methods only record, and run again on replay.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from events.units import AgreementEnd, DepartureReason, SuspensionReason, UnitKind
from services.runtime.aggregates import Stored
from services.runtime.place import Place, Stamp

_NAMESPACE = uuid5(NAMESPACE_URL, "https://shiliu.invalid/units")
LONGEST_TERM_DAYS = 366 * 10


def unit_key(unit_id: str) -> UUID:
    """The aggregate id of the unit registered under `unit_id` (one unit per code)."""
    return uuid5(_NAMESPACE, unit_id)


class Membership(StrEnum):
    """Where the unit stands in its community's alliance."""

    NONE = "none"
    MEMBER = "member"
    SUSPENDED = "suspended"
    LEFT = "left"


class AgreementState(StrEnum):
    NONE = "none"
    ACTIVE = "active"
    ENDED = "ended"


class UnitError(Exception):
    """Base of the registry's domain errors."""

    code = "unit.error"


class UnitNotFoundError(UnitError):
    code = "unit.not_found"

    def __init__(self, unit_id: str) -> None:
        super().__init__(f"no unit registered as {unit_id}")
        self.unit_id = unit_id


class UnitAlreadyRegisteredError(UnitError):
    code = "unit.already_registered"

    def __init__(self, unit_id: str) -> None:
        super().__init__(f"a unit is already registered as {unit_id}")
        self.unit_id = unit_id


class MembershipError(UnitError):
    """The step does not fit where the unit stands in the alliance."""

    code = "unit.illegal_transition"

    def __init__(self, action: str, membership: Membership) -> None:
        super().__init__(f"cannot {action} a unit whose membership is {membership.value}")
        self.membership = membership


class AgreementError(UnitError):
    code = "unit.agreement_invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Unit(Aggregate):
    """A member unit, registered once under its code in the community it lies in."""

    kind = Stored(UnitKind)
    membership = Stored(Membership)
    agreement = Stored(AgreementState)

    @staticmethod
    def create_id(unit_id: str) -> UUID:
        return unit_key(unit_id)

    @event("Registered")
    def __init__(self, *, unit_id: str, name: str, kind: str, stamp: Stamp) -> None:
        self.unit_id = unit_id
        self.name = name
        self.kind = UnitKind(kind)
        self.place: Place = stamp.place
        self.registered_at = stamp.occurred_at
        self.membership = Membership.NONE
        self.agreement = AgreementState.NONE
        self.agreement_starts: date | None = None
        self.agreement_ends: date | None = None

    @classmethod
    def register(cls, *, unit_id: str, name: str, kind: UnitKind, stamp: Stamp) -> Unit:
        return cls(unit_id=unit_id, name=name.strip(), kind=kind.value, stamp=stamp)

    def change_details(self, name: str, kind: UnitKind, stamp: Stamp) -> None:
        self._details_changed(unit_id=self.unit_id, name=name.strip(), kind=kind.value, stamp=stamp)

    def change_contact(self, stamp: Stamp) -> None:
        """Record that the contact changed; the contact itself is sealed beside the event."""
        self._contact_changed(unit_id=self.unit_id, stamp=stamp)

    def join_alliance(self, stamp: Stamp) -> None:
        if self.membership not in (Membership.NONE, Membership.LEFT):
            raise MembershipError("enrol", self.membership)
        self._joined(unit_id=self.unit_id, stamp=stamp)

    def suspend(self, reason: SuspensionReason, stamp: Stamp) -> None:
        if self.membership is not Membership.MEMBER:
            raise MembershipError("suspend", self.membership)
        self._suspended(unit_id=self.unit_id, reason=reason.value, stamp=stamp)

    def reinstate(self, stamp: Stamp) -> None:
        if self.membership is not Membership.SUSPENDED:
            raise MembershipError("reinstate", self.membership)
        self._reinstated(unit_id=self.unit_id, stamp=stamp)

    def leave(self, reason: DepartureReason, stamp: Stamp) -> None:
        if self.membership not in (Membership.MEMBER, Membership.SUSPENDED):
            raise MembershipError("remove", self.membership)
        self._left(unit_id=self.unit_id, reason=reason.value, stamp=stamp)

    def sign_agreement(self, starts_on: date, ends_on: date, stamp: Stamp) -> None:
        if self.agreement is AgreementState.ACTIVE:
            raise AgreementError("starts_on", "an agreement is in force: renew or end it")
        _check_term(starts_on, ends_on)
        self._signed(unit_id=self.unit_id, starts_on=starts_on, ends_on=ends_on, stamp=stamp)

    def renew_agreement(self, ends_on: date, stamp: Stamp) -> None:
        if self.agreement is not AgreementState.ACTIVE or self.agreement_ends is None:
            raise AgreementError("ends_on", "no agreement is in force to renew")
        if ends_on <= self.agreement_ends:
            raise AgreementError("ends_on", f"must be after {self.agreement_ends.isoformat()}")
        assert self.agreement_starts is not None
        _check_term(self.agreement_starts, ends_on)
        self._renewed(unit_id=self.unit_id, ends_on=ends_on, stamp=stamp)

    def end_agreement(self, how: AgreementEnd, stamp: Stamp) -> None:
        if self.agreement is not AgreementState.ACTIVE:
            raise AgreementError("how", "no agreement is in force to end")
        self._ended(unit_id=self.unit_id, how=how.value, stamp=stamp)

    @event("DetailsChanged")
    def _details_changed(self, unit_id: str, name: str, kind: str, stamp: Stamp) -> None:
        self.name = name
        self.kind = UnitKind(kind)

    @event("ContactChanged")
    def _contact_changed(self, unit_id: str, stamp: Stamp) -> None:
        pass

    @event("JoinedAlliance")
    def _joined(self, unit_id: str, stamp: Stamp) -> None:
        self.membership = Membership.MEMBER

    @event("Suspended")
    def _suspended(self, unit_id: str, reason: str, stamp: Stamp) -> None:
        self.membership = Membership.SUSPENDED

    @event("Reinstated")
    def _reinstated(self, unit_id: str, stamp: Stamp) -> None:
        self.membership = Membership.MEMBER

    @event("LeftAlliance")
    def _left(self, unit_id: str, reason: str, stamp: Stamp) -> None:
        self.membership = Membership.LEFT

    @event("AgreementSigned")
    def _signed(self, unit_id: str, starts_on: date, ends_on: date, stamp: Stamp) -> None:
        self.agreement = AgreementState.ACTIVE
        self.agreement_starts = starts_on
        self.agreement_ends = ends_on

    @event("AgreementRenewed")
    def _renewed(self, unit_id: str, ends_on: date, stamp: Stamp) -> None:
        self.agreement_ends = ends_on

    @event("AgreementEnded")
    def _ended(self, unit_id: str, how: str, stamp: Stamp) -> None:
        self.agreement = AgreementState.ENDED


def _check_term(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise AgreementError("ends_on", "must not be before starts_on")
    if (ends_on - starts_on).days > LONGEST_TERM_DAYS:
        raise AgreementError("ends_on", "a term is at most ten years")
