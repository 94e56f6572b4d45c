"""Where a report is, from coordinates or an address: the grid whose outline holds the point,
else the nearest building within a radius; or the building whose address the text names.

Geometry is shapely's (STRtree indexes, point-in-polygon, nearest neighbour), on a local
equirectangular projection in metres around the district's mean latitude: exact enough for
radii of a few hundred metres, and the radius stays in metres.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shapely import Point, Polygon, STRtree

from services.runtime.territory_plan import building_code
from services.tickets.territory import TerritoryMap

METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LONG = 111_320.0
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Located:
    """A place in the territory: a community, and its grid and building where known."""

    community: str
    grid: str | None
    building: str | None


@dataclass(frozen=True)
class _Building:
    community: str
    code: str
    lat: float | None
    long: float | None
    address: str
    name: str


def normalised(text: str) -> str:
    """For comparing addresses: case, width and white space aside ("C01社区 １号楼" is
    "c01社区1号楼")."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).casefold()


class Locator:
    """One district's grids and buildings, indexed for locating reports."""

    def __init__(self, territory: TerritoryMap) -> None:
        self.territory = territory
        buildings = list(_buildings(territory.plan))
        outlines = list(_outlines(territory.plan))
        lats = [b.lat for b in buildings if b.lat is not None]
        lats += [lat for _, _, ring in outlines for _, lat in ring]
        self._cos = math.cos(math.radians(sum(lats) / len(lats))) if lats else 1.0
        self._grids = [(community, grid) for community, grid, _ in outlines]
        self._grid_index = STRtree([Polygon([self._xy(*p) for p in r]) for *_, r in outlines])
        points = [(b, b.long, b.lat) for b in buildings]
        placed = [(b, long, lat) for b, long, lat in points if long is not None and lat is not None]
        self._placed = [b for b, _, _ in placed]
        self._building_index = STRtree([Point(self._xy(long, lat)) for _, long, lat in placed])
        self._by_address: dict[str, list[_Building]] = {}
        for b in buildings:
            for text in {normalised(b.address), normalised(b.name)} - {""}:
                self._by_address.setdefault(text, []).append(b)

    def _xy(self, long: float, lat: float) -> tuple[float, float]:
        return long * METRES_PER_DEGREE_LONG * self._cos, lat * METRES_PER_DEGREE_LAT

    def at(self, lat: float, long: float, radius_m: float) -> Located | None:
        """The grid whose outline holds the point (with its nearest building within the
        radius, if that building is in the grid), else the nearest building within the radius."""
        point = Point(self._xy(long, lat))
        nearest = self._nearest_building(point, radius_m)
        for i in sorted(self._grid_index.query(point, predicate="intersects")):
            community, grid = self._grids[int(i)]
            if grid not in self.territory.grids.get(community, []):
                continue  # retired since the plan was imported
            inside = nearest is not None and nearest.grid == grid
            return Located(community, grid, nearest.building if nearest and inside else None)
        return nearest

    def _nearest_building(self, point: Point, radius_m: float) -> Located | None:
        found = self._building_index.query_nearest(point, max_distance=radius_m)
        if len(found) == 0:
            return None
        building = self._placed[int(min(found))]  # equidistant: the first in the plan
        return self._building(building)

    def named(self, address: str) -> Located | None:
        """The one building whose address or name the text is, or begins with (the longest
        such address wins: "…1号楼2单元301" is building "…1号楼")."""
        text = normalised(address)
        for end in range(len(text), 0, -1):
            matches = self._by_address.get(text[:end], [])
            if len(matches) == 1:
                return self._building(matches[0])
            if matches:
                return None  # names several buildings: not a place
        return None

    def _building(self, building: _Building) -> Located:
        grid = self.territory.grid_of(building.community, building.code)
        return Located(building.community, grid, building.code)


def _buildings(plan: dict[str, Any]) -> Iterator[_Building]:
    for street in plan["streets"]:
        for community in street["communities"]:
            for grid in community["grids"]:
                for b in grid["buildings"]:
                    fields = b if isinstance(b, dict) else {}
                    yield _Building(
                        community["code"], building_code(b), fields.get("lat"),
                        fields.get("long"), fields.get("address", ""), fields.get("name", ""),
                    )  # fmt: skip


def _outlines(plan: dict[str, Any]) -> Iterator[tuple[str, str, list[tuple[float, float]]]]:
    for street in plan["streets"]:
        for community in street["communities"]:
            for grid in community["grids"]:
                if grid.get("boundary"):
                    ring = [(float(x), float(y)) for x, y in grid["boundary"]]
                    yield community["code"], grid["code"], ring
