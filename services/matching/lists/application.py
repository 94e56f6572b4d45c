"""The lists' commands: publish, change, pause, resume and withdraw listings on the matching
store. A unit lists only while it is a member of its community's alliance in good standing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from pydantic import BaseModel

from events.listings import ListingTerms, Side
from services.matching.lists.domain import (
    InvalidListingError,
    Listing,
    ListingNotFoundError,
    ListingState,
)
from services.matching.registry.domain import Membership, Unit, UnitNotFoundError, unit_key
from services.runtime.commands import Caller
from services.runtime.place import Place, Stamp
from services.runtime.stamping import StampedCommands


class ListingSnapshot(BaseModel):
    listing_id: UUID
    side: Side
    unit_id: str | None
    district: str
    street: str
    community: str
    grid: str | None
    terms: ListingTerms
    state: ListingState
    listed_at: datetime
    changed_at: datetime
    version: int

    @classmethod
    def of(cls, listing: Listing) -> ListingSnapshot:
        place = listing.place
        return cls(
            listing_id=listing.id, side=listing.side, unit_id=listing.unit_id,
            district=place.district, street=place.street, community=place.community,
            grid=place.grid, terms=listing.terms, state=listing.state,
            listed_at=listing.listed_at, changed_at=listing.changed_at, version=listing.version,
        )  # fmt: skip


class ListingOutcome(BaseModel):
    listing: ListingSnapshot
    position: int = 0
    """The notification id of the last event saved, for read-your-writes on the lists."""


class Lists:
    """Keeps the resource list and the demand list of every community."""

    def __init__(self, commands: StampedCommands) -> None:
        self.commands = commands

    def publish(
        self,
        caller: Caller,
        *,
        side: Side,
        unit_id: str | None,
        place: Place | None,
        terms: ListingTerms,
    ) -> ListingOutcome:
        """List for a unit (at the unit's place, narrowed to `place`'s grid if given), or for
        the community at `place` when `unit_id` is None."""

        def decide() -> tuple[list[Aggregate], ListingOutcome]:
            where = self._place_for(unit_id, place)
            stamp = self.commands.stamp(caller, where, None)
            listing = Listing.publish(side=side, unit_id=unit_id, terms=terms, stamp=stamp)
            return [listing], ListingOutcome(listing=ListingSnapshot.of(listing))

        payload = {"side": side, "unit_id": unit_id, "terms": terms.model_dump(mode="json"),
                   "place": place.__dict__ if place else None}  # fmt: skip
        return self.commands.run(caller, "publish_listing", payload, decide, ListingOutcome)

    def change(self, caller: Caller, listing_id: UUID, terms: ListingTerms) -> ListingOutcome:
        return self._change(caller, listing_id, "change_listing",
                            {"terms": terms.model_dump(mode="json")},
                            lambda li, s: li.change(terms, s))  # fmt: skip

    def pause(self, caller: Caller, listing_id: UUID) -> ListingOutcome:
        return self._change(caller, listing_id, "pause_listing", {}, lambda li, s: li.pause(s))

    def resume(self, caller: Caller, listing_id: UUID) -> ListingOutcome:
        return self._change(caller, listing_id, "resume_listing", {}, lambda li, s: li.resume(s))

    def withdraw(self, caller: Caller, listing_id: UUID) -> ListingOutcome:
        return self._change(
            caller, listing_id, "withdraw_listing", {}, lambda li, s: li.withdraw(s)
        )

    def get(self, listing_id: UUID) -> ListingSnapshot:
        return ListingSnapshot.of(self._load(listing_id))

    def _place_for(self, unit_id: str | None, place: Place | None) -> Place:
        if unit_id is None:
            if place is None:
                raise InvalidListingError("community", "a community's own listing needs its place")
            return place
        unit = self.commands.load(unit_key(unit_id), Unit, lambda _: UnitNotFoundError(unit_id))
        if unit.membership is not Membership.MEMBER:
            why = f"unit {unit_id} is {unit.membership.value} in its community's alliance"
            raise InvalidListingError("unit_id", f"{why}: only members list")
        if place is not None and place.community != unit.place.community:
            raise InvalidListingError("community", f"unit {unit_id} lies in {unit.place.community}")
        grid = place.grid if place is not None and place.grid else unit.place.grid
        return Place(unit.place.district, unit.place.street, unit.place.community, grid)

    def _load(self, listing_id: UUID) -> Listing:
        return self.commands.load(listing_id, Listing, ListingNotFoundError)

    def _change(
        self,
        caller: Caller,
        listing_id: UUID,
        command: str,
        payload: dict[str, Any],
        decide: Callable[[Listing, Stamp], None],
    ) -> ListingOutcome:
        def attempt() -> tuple[list[Aggregate], ListingOutcome]:
            listing = self._load(listing_id)
            if caller.unit_guard is not None:
                caller.unit_guard(listing.unit_id)
            decide(listing, self.commands.stamp(caller, listing.place, None))
            return [listing], ListingOutcome(listing=ListingSnapshot.of(listing))

        payload = {"listing_id": str(listing_id), **payload}
        return self.commands.run(caller, command, payload, attempt, ListingOutcome, lock=listing_id)
