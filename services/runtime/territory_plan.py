"""A district's territory file: streets → communities → grids → buildings, as every service
reads it (the tickets service keeps it as events; the others place what they store by it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from events.envelope import Code
from services.runtime.text import Body


class _Node(Body):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: Annotated[str, Field(max_length=60)] = ""
    """Empty when the file gives none."""


Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


class BuildingPlan(_Node):
    """A building and where it is: WGS 84 coordinates and its address, both optional."""

    lat: Latitude | None = None
    long: Longitude | None = None
    address: Annotated[str, Field(max_length=200)] = ""


class GridPlan(_Node):
    buildings: list[Code | BuildingPlan] = Field(default_factory=list)
    """A building's code alone, or a building with its place."""
    boundary: Annotated[list[tuple[Longitude, Latitude]], Field(min_length=3)] | None = None
    """The grid's outline, a ring of (longitude, latitude) points as in GeoJSON."""


class CommunityPlan(_Node):
    grids: Annotated[list[GridPlan], Field(min_length=1)]


class StreetPlan(_Node):
    communities: list[CommunityPlan]


class DistrictPlan(_Node):
    """The file's shape: a district's streets, communities, grids and buildings."""

    streets: list[StreetPlan]

    @classmethod
    def load(cls, path: Path) -> DistrictPlan:
        return cls.model_validate_json(path.read_bytes())


def building_code(building: str | dict[str, Any]) -> str:
    """A stored plan's building: its code alone, or a `BuildingPlan` as a dict."""
    return building if isinstance(building, str) else str(building["code"])


def places_in(plan: DistrictPlan) -> Iterator[tuple[str, str, str]]:
    """Every (street, community, grid) of the plan."""
    for street in plan.streets:
        for community in street.communities:
            for grid in community.grids:
                yield street.code, community.code, grid.code
