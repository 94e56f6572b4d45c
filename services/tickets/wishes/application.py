"""The wish commands: load, decide, save on the tickets store (through its command loop)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate
from pydantic import BaseModel

from events.wishes import (
    ClaimMode,
    RefusalReason,
    RejectionReason,
    ReleaseReason,
    WishCategory,
    WithdrawalReason,
)
from services.runtime.commands import Caller, personal_digest
from services.runtime.masking import mask_address, mask_name, mask_phone
from services.runtime.personal import (
    Disclosure,
    PersonalDataVault,
    PersonErasedError,
    Sealed,
)
from services.runtime.place import Place, Stamp
from services.runtime.stamping import StampedCommands
from services.tickets.atlas import Atlas
from services.tickets.store import TicketsStore
from services.tickets.wishes.domain import Wish, WishError, WishNotFoundError, WishState


class WishSnapshot(BaseModel):
    """A wish as the board shows it: public fields only."""

    id: UUID
    district: str
    street: str
    community: str
    grid: str | None
    title: str
    category: WishCategory
    claim_mode: ClaimMode
    quota: int
    state: WishState
    claimants: list[str]
    refusals: int
    rating: int | None
    posted_at: datetime
    expires_at: datetime | None
    version: int

    @classmethod
    def of(cls, wish: Wish) -> WishSnapshot:
        return cls(
            id=wish.id,
            district=wish.place.district,
            street=wish.place.street,
            community=wish.place.community,
            grid=wish.place.grid,
            title=wish.title,
            category=wish.category,
            claim_mode=wish.claim_mode,
            quota=wish.quota,
            state=wish.state,
            claimants=list(wish.claimants),
            refusals=wish.refusals,
            rating=wish.rating,
            posted_at=wish.posted_at,
            expires_at=wish.expires_at,
            version=wish.version,
        )


class ContactCard(BaseModel):
    """A wish's resident contact: masked, unless revealed for a reason that was logged."""

    wish_id: UUID
    resident_id: str
    masked: bool
    name: str | None = None
    phone: str | None = None
    address: str | None = None
    details: str | None = None
    """Free text about the person: cannot be masked, so only shown when revealed."""

    @classmethod
    def of(cls, wish: Wish, personal: dict[str, Any] | None, *, masked: bool) -> ContactCard:
        contact: dict[str, str | None] = (personal or {}).get("contact") or {}

        def shown(field: str, mask: Callable[[str], str]) -> str | None:
            value = contact.get(field)
            return mask(value) if masked and value is not None else value

        return cls(
            wish_id=wish.id, resident_id=wish.resident_id, masked=masked,
            name=shown("name", mask_name), phone=shown("phone", mask_phone),
            address=shown("address", mask_address),
            details=None if masked else (personal or {}).get("details"),
        )  # fmt: skip


class WishOutcome(BaseModel):
    wish: WishSnapshot
    refusal: RefusalReason | None = None
    position: int = 0
    """The notification id of the last event saved, for read-your-writes on the board view."""


class ClaimRefusedError(WishError):
    """The claim lost: recorded as `WishClaimRefused`, answered with the current claimants."""

    code = "wish.claim_refused"

    def __init__(self, outcome: WishOutcome) -> None:
        assert outcome.refusal is not None
        super().__init__(f"claim refused: {outcome.refusal.value}")
        self.outcome = outcome
        self.reason = outcome.refusal
        self.claimants = tuple(outcome.wish.claimants)


class ClaimCheck(Protocol):
    """Who may claim where: the member units the registry enrolled (`services.tickets.units`)."""

    def check_claim(self, unit_id: str, place: Place, /) -> None:
        """Raise unless the unit may claim a wish at `place`."""


class WishDesk:
    """Posts, claims and fulfils micro-wishes, and reveals a wish's contact for a reason."""

    def __init__(
        self,
        commands: StampedCommands,
        atlas: Atlas,
        vault: PersonalDataVault | None,
        units: ClaimCheck,
    ) -> None:
        self.commands = commands
        self.atlas = atlas
        self.vault = vault
        self.units = units

    def clock(self) -> datetime:
        return self.commands.clock()

    @classmethod
    def on(cls, store: TicketsStore, units: ClaimCheck) -> WishDesk:
        return cls(store.commands, store.atlas, store.vault, units)

    # Commands

    def post_wish(
        self,
        caller: Caller,
        *,
        place: Place,
        resident_id: str,
        title: str,
        category: WishCategory,
        claim_mode: ClaimMode,
        quota: int,
        expires_at: datetime | None = None,
        personal: dict[str, Any] | None = None,
    ) -> WishOutcome:
        """Post a wish where the territory has its community (and grid): UnknownPlaceError
        otherwise, naming the field."""
        self.atlas.locate(place.district, place.community, place.grid, street=place.street)
        payload = {"place": place.__dict__, "resident_id": resident_id, "title": title,
                   "category": category, "claim_mode": claim_mode, "quota": quota,
                   "expires_at": expires_at.isoformat() if expires_at else None,
                   "personal": personal_digest(self.vault, personal)}  # fmt: skip

        def create(stamp: Stamp) -> Wish:
            return Wish.post(
                stamp=stamp,
                resident_id=resident_id,
                title=title,
                category=category,
                claim_mode=claim_mode,
                quota=quota,
                expires_at=expires_at,
            )

        def seal(outcome: WishOutcome) -> list[Sealed]:
            if not personal:
                return []
            return [Sealed(resident_id, str(outcome.wish.id), "wish", personal)]

        return self._create(caller, "post_wish", payload, place, resident_id, create, seal)

    def verify_wish(self, caller: Caller, wish_id: UUID) -> WishOutcome:
        return self._change(caller, wish_id, "verify_wish", {}, lambda w, s: w.verify(s))

    def reject_wish(self, caller: Caller, wish_id: UUID, reason: RejectionReason) -> WishOutcome:
        return self._change(
            caller, wish_id, "reject_wish", {"reason": reason}, lambda w, s: w.reject(reason, s)
        )

    def claim_wish(self, caller: Caller, wish_id: UUID, unit_id: str) -> WishOutcome:
        """Claim; raises `ClaimRefusedError` (after recording the refusal) when it loses, and
        refuses a unit the registry has not enrolled in the wish's community (`ClaimCheck`)."""

        def claim(wish: Wish, stamp: Stamp) -> RefusalReason | None:
            self.units.check_claim(unit_id, wish.place)
            return wish.claim(unit_id, stamp)

        outcome = self._change(caller, wish_id, "claim_wish", {"unit_id": unit_id}, claim)
        if outcome.refusal is not None:
            raise ClaimRefusedError(outcome)
        return outcome

    def release_claim(
        self, caller: Caller, wish_id: UUID, unit_id: str, reason: ReleaseReason
    ) -> WishOutcome:
        return self._change(
            caller,
            wish_id,
            "release_claim",
            {"unit_id": unit_id, "reason": reason},
            lambda w, s: w.release_claim(unit_id, reason, s),
        )

    def report_fulfilment(self, caller: Caller, wish_id: UUID, unit_id: str) -> WishOutcome:
        return self._change(
            caller,
            wish_id,
            "report_fulfilment",
            {"unit_id": unit_id},
            lambda w, s: w.report_fulfilment(unit_id, s),
        )

    def verify_fulfilment(self, caller: Caller, wish_id: UUID) -> WishOutcome:
        return self._change(
            caller, wish_id, "verify_fulfilment", {}, lambda w, s: w.verify_fulfilment(s)
        )

    def acknowledge_wish(self, caller: Caller, wish_id: UUID, rating: int | None) -> WishOutcome:
        return self._change(
            caller, wish_id, "acknowledge_wish", {"rating": rating},
            lambda w, s: w.acknowledge(rating, s),
        )  # fmt: skip

    def withdraw_wish(self, caller: Caller, wish_id: UUID, reason: WithdrawalReason) -> WishOutcome:
        return self._change(
            caller, wish_id, "withdraw_wish", {"reason": reason}, lambda w, s: w.withdraw(reason, s)
        )

    def expire_wish(self, caller: Caller, wish_id: UUID) -> WishOutcome:
        return self._change(caller, wish_id, "expire_wish", {}, lambda w, s: w.expire(s))

    def get_wish(self, wish_id: UUID) -> WishSnapshot:
        return WishSnapshot.of(self._load(wish_id))

    def personal_details(self, resident_id: str, wish_id: UUID) -> dict[str, Any] | None:
        return self.vault.get(resident_id, str(wish_id)) if self.vault else None

    # Personal data

    def contact_of(self, caller: Caller, wish_id: UUID, *, reason: str | None) -> ContactCard:
        """The resident's contact, masked; with a reason, revealed and logged (the caller's
        right to reveal is checked before this)."""
        wish = self._load(wish_id)
        if caller.guard is not None:
            caller.guard(wish.place, wish.resident_id)
        if self.vault is None:
            return ContactCard.of(wish, None, masked=reason is None)
        if reason is None:
            personal = self.vault.get(wish.resident_id, str(wish_id))
        else:
            disclosure = Disclosure(
                accessed_at=self.clock(), actor_id=caller.actor_id, role=caller.role,
                person_id=wish.resident_id, record_id=str(wish_id), kind="wish.contact",
                reason=reason, **wish.place.__dict__,
            )  # fmt: skip
            personal = self.vault.reveal(wish.resident_id, str(wish_id), disclosure)
        erased = self.vault.erasure(wish.resident_id) if personal is None else None
        if erased is not None and erased.erased_at >= wish.posted_at:
            raise PersonErasedError(wish.resident_id, erased.erased_at)
        return ContactCard.of(wish, personal, masked=reason is None)

    # Machinery

    def _load(self, wish_id: UUID) -> Wish:
        return self.commands.load(wish_id, Wish, WishNotFoundError)

    def _create(
        self,
        caller: Caller,
        command: str,
        payload: dict[str, Any],
        place: Place,
        resident_id: str,
        create: Callable[[Stamp], Wish],
        seal: Callable[[WishOutcome], Sequence[Sealed]],
    ) -> WishOutcome:
        def decide() -> tuple[list[Aggregate], WishOutcome]:
            wish = create(self.commands.stamp(caller, place, resident_id))
            return [wish], WishOutcome(wish=WishSnapshot.of(wish))

        return self.commands.run(caller, command, payload, decide, WishOutcome, seal=seal)

    def _change(
        self,
        caller: Caller,
        wish_id: UUID,
        command: str,
        payload: dict[str, Any],
        decide: Callable[[Wish, Stamp], RefusalReason | None],
    ) -> WishOutcome:
        def attempt() -> tuple[list[Aggregate], WishOutcome]:
            wish = self._load(wish_id)
            refusal = decide(wish, self.commands.stamp(caller, wish.place, wish.resident_id))
            return [wish], WishOutcome(wish=WishSnapshot.of(wish), refusal=refusal)

        payload = {"wish_id": str(wish_id), **payload}
        return self.commands.run(caller, command, payload, attempt, WishOutcome, lock=wish_id)
