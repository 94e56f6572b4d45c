"""A listing on one of the two lists: what a unit or the community offers (资源清单) or needs
(需求清单), with its capacity, availability and reach.

Public methods decide and raise; the `@event` methods only record, and run again on replay.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from events.listings import Availability, ListingTerms, Side
from services.runtime.aggregates import Stored
from services.runtime.place import Place, Stamp


class ListingState(StrEnum):
    LISTED = "listed"
    PAUSED = "paused"
    WITHDRAWN = "withdrawn"


class ListingError(Exception):
    """Base of the lists' domain errors."""

    code = "listing.error"


class ListingNotFoundError(ListingError):
    code = "listing.not_found"

    def __init__(self, listing_id: UUID) -> None:
        super().__init__(f"no listing with id {listing_id}")
        self.listing_id = listing_id


class InvalidListingError(ListingError):
    code = "listing.invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ListingTransitionError(ListingError):
    code = "listing.illegal_transition"

    def __init__(self, action: str, state: ListingState) -> None:
        super().__init__(f"cannot {action} a listing that is {state.value}")
        self.state = state


class CapacityExhaustedError(ListingError):
    """Every seat, place or session of the offer is taken by an agreed match."""

    code = "listing.full"

    def __init__(self, capacity: int) -> None:
        super().__init__(f"all {capacity} of the listing's capacity is taken")
        self.capacity = capacity


class Listing(Aggregate):
    """One entry on the resource list or the demand list."""

    side = Stored(Side)
    state = Stored(ListingState)

    @event("Published")
    def __init__(
        self, *, side: str, unit_id: str | None, terms: ListingTerms, stamp: Stamp
    ) -> None:
        self.side = Side(side)
        self.unit_id = unit_id
        self.terms = terms
        self.place: Place = stamp.place
        self.state = ListingState.LISTED
        self.listed_at: datetime = stamp.occurred_at
        self.changed_at: datetime = stamp.occurred_at
        self.reserved: list[str] = []
        """The matches holding some of its capacity (one unit each)."""

    @classmethod
    def publish(
        cls, *, side: Side, unit_id: str | None, terms: ListingTerms, stamp: Stamp
    ) -> Listing:
        _check(terms)
        return cls(side=side.value, unit_id=unit_id, terms=terms, stamp=stamp)

    def change(self, terms: ListingTerms, stamp: Stamp) -> None:
        if self.state is ListingState.WITHDRAWN:
            raise ListingTransitionError("change", self.state)
        _check(terms)
        self._changed(terms=terms, stamp=stamp)

    def pause(self, stamp: Stamp) -> None:
        if self.state is not ListingState.LISTED:
            raise ListingTransitionError("pause", self.state)
        self._paused(stamp=stamp)

    def resume(self, stamp: Stamp) -> None:
        if self.state is not ListingState.PAUSED:
            raise ListingTransitionError("resume", self.state)
        self._resumed(stamp=stamp)

    def withdraw(self, stamp: Stamp) -> None:
        if self.state is ListingState.WITHDRAWN:
            raise ListingTransitionError("withdraw", self.state)
        self._withdrawn(stamp=stamp)

    def reserve(self, match_id: UUID, stamp: Stamp) -> None:
        """Take one unit of capacity for an agreed match (`CapacityExhaustedError` when none
        is left); a match holding some already keeps it."""
        if str(match_id) in self.reserved:
            return
        if self.state is not ListingState.LISTED:
            raise ListingTransitionError("reserve capacity of", self.state)
        capacity = self.terms.capacity
        if capacity is not None and len(self.reserved) >= capacity:
            raise CapacityExhaustedError(capacity)
        self._reserved(match_id=str(match_id), stamp=stamp)

    def release(self, match_id: UUID, stamp: Stamp) -> None:
        """Give back the capacity a called-off match held (nothing, if it held none)."""
        if str(match_id) in self.reserved:
            self._released(match_id=str(match_id), stamp=stamp)

    @property
    def remaining(self) -> int | None:
        capacity = self.terms.capacity
        return None if capacity is None else max(0, capacity - len(self.reserved))

    @event("Reserved")
    def _reserved(self, match_id: str, stamp: Stamp) -> None:
        self.reserved = [*self.reserved, match_id]

    @event("Released")
    def _released(self, match_id: str, stamp: Stamp) -> None:
        self.reserved = [m for m in self.reserved if m != match_id]

    @event("Changed")
    def _changed(self, terms: ListingTerms, stamp: Stamp) -> None:
        self.terms = terms
        self.changed_at = stamp.occurred_at

    @event("Paused")
    def _paused(self, stamp: Stamp) -> None:
        self.state = ListingState.PAUSED
        self.changed_at = stamp.occurred_at

    @event("Resumed")
    def _resumed(self, stamp: Stamp) -> None:
        self.state = ListingState.LISTED
        self.changed_at = stamp.occurred_at

    @event("Withdrawn")
    def _withdrawn(self, stamp: Stamp) -> None:
        self.state = ListingState.WITHDRAWN
        self.changed_at = stamp.occurred_at


def _check(terms: ListingTerms) -> None:
    """What the terms' own types cannot say: windows that close after they open, ranges that
    end after they start."""
    for i, window in enumerate(terms.availability.weekly):
        if window.closes <= window.opens:
            raise InvalidListingError(f"availability.weekly.{i}.closes", "must be after opens")
    for i, span in enumerate(terms.availability.dates):
        if span.ends_on < span.starts_on:
            raise InvalidListingError(
                f"availability.dates.{i}.ends_on", "must not be before starts_on"
            )
    if not terms.title.strip():
        raise InvalidListingError("title", "must not be blank")


LOCAL_TIME = ZoneInfo("Asia/Shanghai")
"""The time zone a listing's weekly windows and dates are written in (all of China's)."""


def is_available(availability: Availability, at: datetime) -> bool:
    """Inside one of the date ranges (any date when none) and one of the weekly windows (any
    time when none), at `at` in local time."""
    local = at.astimezone(LOCAL_TIME)
    if not _on_a_listed_date(availability, local.date()):
        return False
    moment = local.time().replace(tzinfo=None)
    return not availability.weekly or any(
        w.weekday == local.isoweekday() and w.opens <= moment < w.closes
        for w in availability.weekly
    )


def opens_within(availability: Availability, at: datetime, days: int) -> bool:
    """Whether it is open at some time from `at` to `days` days later (local time)."""
    local = at.astimezone(LOCAL_TIME)
    moment = local.time().replace(tzinfo=None)
    for offset in range(days + 1):
        day = local.date() + timedelta(days=offset)
        if not _on_a_listed_date(availability, day):
            continue
        if not availability.weekly or any(
            w.weekday == day.isoweekday() and (offset > 0 or moment < w.closes)
            for w in availability.weekly
        ):
            return True
    return False


def _on_a_listed_date(availability: Availability, day: date) -> bool:
    return not availability.dates or any(
        r.starts_on <= day <= r.ends_on for r in availability.dates
    )
