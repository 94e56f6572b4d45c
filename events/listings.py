"""Listings on the two lists, published by the matching service.

The resource list (资源清单) names what a member unit can give the community — a 100-seat
meeting room, off-peak parking, lectures, volunteers; the demand list (需求清单) what a unit
needs from it — counselling, training, security staff. The community's own offers to units
(expert training, subsidies, policy briefings) are listings too, so matching runs both ways
(双向服务). A listing is listed, changed, paused, resumed and withdrawn.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from events.envelope import INT64_MAX, IntegrationEvent
from events.taxonomy import ServiceCategory
from events.units import UnitId


class Side(StrEnum):
    OFFER = "offer"
    """On the resource list: something given."""
    DEMAND = "demand"
    """On the demand list: something needed."""


class CapacityUnit(StrEnum):
    SEATS = "seats"
    PLACES = "places"
    SESSIONS = "sessions"
    PEOPLE = "people"
    ITEMS = "items"


class Reach(StrEnum):
    """How far from the listing's own place it serves (or is needed)."""

    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        msg = "a wall-clock time in the community's own time, without an offset"
        raise ValueError(msg)
    return value


WallClock = Annotated[time, AfterValidator(_wall_clock)]
"""A time of day as the listing's community reads its clocks (no offset)."""


class WeeklyWindow(BaseModel):
    """Open every week on `weekday` (1 = Monday … 7 = Sunday) from `opens` to `closes`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    weekday: Annotated[int, Field(ge=1, le=7)]
    opens: WallClock
    closes: WallClock


class DateRange(BaseModel):
    """Available from `starts_on` to `ends_on`, both included."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    starts_on: date
    ends_on: date


class Availability(BaseModel):
    """When a listing can be used: inside one of the date ranges (any date, if none), and
    inside one of the weekly windows (any time, if none)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    weekly: tuple[WeeklyWindow, ...] = ()
    dates: tuple[DateRange, ...] = ()


Text = Annotated[str, StringConstraints(max_length=2000)]


class ListingTerms(BaseModel):
    """What a listing says: everything but who lists it and where."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    category: ServiceCategory
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    description: Text = ""
    capacity: Annotated[int, Field(ge=1, le=INT64_MAX)] | None = None
    """Seats, places or sessions at one time; None is unlimited."""
    capacity_unit: CapacityUnit = CapacityUnit.SESSIONS
    availability: Availability = Availability()
    reach: Reach = Reach.COMMUNITY
    conditions: Text = ""


class ListingEvent(IntegrationEvent):
    service: ClassVar[str] = "matching"
    listing_id: UUID

    @property
    def aggregate_id(self) -> UUID:
        return self.listing_id


class ListingPublished(ListingEvent):
    """A unit (or the community, when `unit_id` is None) put a listing on one of the lists."""

    subject_suffix: ClassVar[str] = "listing.published"
    type: Literal["ListingPublished"] = "ListingPublished"
    side: Side
    unit_id: UnitId | None = None
    terms: ListingTerms


class ListingChanged(ListingEvent):
    """The listing's terms changed; these are its terms from now on."""

    subject_suffix: ClassVar[str] = "listing.changed"
    type: Literal["ListingChanged"] = "ListingChanged"
    terms: ListingTerms


class ListingPaused(ListingEvent):
    """The listing is paused: it stays on the list, but nothing is matched to it."""

    subject_suffix: ClassVar[str] = "listing.paused"
    type: Literal["ListingPaused"] = "ListingPaused"


class ListingResumed(ListingEvent):
    """A paused listing is matched again."""

    subject_suffix: ClassVar[str] = "listing.resumed"
    type: Literal["ListingResumed"] = "ListingResumed"


class ListingWithdrawn(ListingEvent):
    """The listing left its list for good."""

    subject_suffix: ClassVar[str] = "listing.withdrawn"
    type: Literal["ListingWithdrawn"] = "ListingWithdrawn"


LISTING_EVENTS: tuple[type[ListingEvent], ...] = (
    ListingPublished,
    ListingChanged,
    ListingPaused,
    ListingResumed,
    ListingWithdrawn,
)

AnyListingEvent = Annotated[
    ListingPublished | ListingChanged | ListingPaused | ListingResumed | ListingWithdrawn,
    Field(discriminator="type"),
]
