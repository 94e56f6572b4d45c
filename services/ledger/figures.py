"""Figures the ledgers share: step durations and rounded means."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import groupby

from pydantic import BaseModel

from services.runtime.database import Row


class Durations(BaseModel):
    """Hours, over the items that reached the step."""

    count: int
    mean_hours: float | None
    median_hours: float | None


def durations(rows: Sequence[Row], start: str, end: str) -> Durations:
    """Hours from the `start` column to the `end` column, over rows that have both."""
    hours = [
        (datetime.fromisoformat(row[end]) - datetime.fromisoformat(row[start])).total_seconds()
        / 3600
        for row in rows
        if row[end] and row[start]
    ]
    if not hours:
        return Durations(count=0, mean_hours=None, median_hours=None)
    return Durations(
        count=len(hours),
        mean_hours=round(statistics.fmean(hours), 3),
        median_hours=round(statistics.median(hours), 3),
    )


def mean(values: Iterable[float | int | None]) -> float | None:
    """The mean of the values present, rounded to three places; None when there are none."""
    present = [value for value in values if value is not None]
    return round(statistics.fmean(present), 3) if present else None


def tally(values: Iterable[str], keys: Iterable[str] = ()) -> dict[str, int]:
    """Counts per value, with every one of `keys` present (zero when unseen)."""
    counts = dict.fromkeys(keys, 0)
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def by_community(rows: Sequence[Row]) -> Iterator[tuple[str, str, list[Row]]]:
    """(street, community, rows) per community, from rows ordered by community then street."""
    for (community, street), group in groupby(rows, lambda r: (r["community"], r["street"])):
        yield street, community, list(group)
