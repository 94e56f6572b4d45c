"""Instants as they may enter and as the views store them.

A time a person gives (a wish's expiry, a dispute's extended deadline) must name a zone and lie
between 2000 and 2199 in UTC: `9999-12-31T23:59:59-23:59` is a valid ISO 8601 string, but in
UTC it lies past the calendar's end, and a view that stored it as UTC failed on every pass.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)


def _within_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise PydanticCustomError(
            "datetime_out_of_range", "must lie between 2000-01-01 and 2199-12-31 (UTC)"
        )
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_within_range)]
"""A timezone-aware datetime of a request, between `EARLIEST` and `LATEST`."""


def utc_iso(when: datetime) -> str:
    """`when` in UTC as ISO 8601; one past the calendar's ends (stored before `Instant`
    refused it) as the calendar's last or first instant, so a view never stalls on it."""
    try:
        return when.astimezone(UTC).isoformat()
    except OverflowError:
        end = datetime.max if when.year > 1 else datetime.min
        return end.replace(tzinfo=UTC).isoformat()
