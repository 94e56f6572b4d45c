"""The territory tree: district → street → community → grid → building.

Loaded from a file (`services.runtime.territory_plan`), then changed by events: grids are
drawn or retired and buildings move between grids. One `TerritoryMap` aggregate per district
holds the whole tree; tickets ask it which grid a building is in and whether a grid exists.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.runtime.territory_plan import DistrictPlan, building_code

_NAMESPACE = uuid5(NAMESPACE_URL, "https://shiliu.invalid/territory")


class TerritoryError(Exception):
    code = "territory.error"


class UnknownPlaceError(TerritoryError):
    code = "territory.unknown_place"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def map_id(district: str) -> UUID:
    return uuid5(_NAMESPACE, district)


class TerritoryMap(Aggregate):
    """A district's territory tree, as imported and then re-drawn."""

    @staticmethod
    def create_id(district: str, plan: dict[str, Any]) -> UUID:
        return map_id(district)

    @event("Imported")
    def __init__(self, district: str, plan: dict[str, Any]) -> None:
        self.district = district
        self._load(plan)

    def _load(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        """As imported: where buildings and grids lie (moves and new grids are recorded apart)."""
        self.street_of: dict[str, str] = {}
        self.grids: dict[str, list[str]] = {}
        self.building_grid: dict[str, str] = {}
        """`community/building` → grid."""
        for street in plan["streets"]:
            for community in street["communities"]:
                code = community["code"]
                self.street_of[code] = street["code"]
                self.grids[code] = [grid["code"] for grid in community["grids"]]
                for grid in community["grids"]:
                    for building in grid["buildings"]:
                        self.building_grid[f"{code}/{building_code(building)}"] = grid["code"]

    @classmethod
    def import_plan(cls, plan: DistrictPlan) -> TerritoryMap:
        return cls(district=plan.code, plan=plan.model_dump(mode="json"))

    # Questions

    def street_for(self, community: str) -> str:
        """The street `community` lies in."""
        street = self.street_of.get(community)
        if street is None:
            raise UnknownPlaceError("community", f"{community} is not in {self.district}")
        return street

    def require_community(self, street: str, community: str) -> None:
        if self.street_of.get(community) != street:
            raise UnknownPlaceError(
                "community", f"{community} is not a community of street {street} in {self.district}"
            )

    def grid_of(self, community: str, building: str) -> str | None:
        return self.building_grid.get(f"{community}/{building}")

    def grid_of_building(self, community: str, building: str, grid: str | None = None) -> str:
        """The grid `building` lies in; UnknownPlaceError unless it is a building of
        `community` (and of `grid`, when one is named)."""
        found = self.grid_of(community, building)
        if found is None:
            raise UnknownPlaceError("building", f"{building} is not a building of {community}")
        if grid is not None and grid != found:
            raise UnknownPlaceError(
                "grid", f"{community}/{building} lies in grid {found}, not {grid}"
            )
        return found

    def require_grid(self, community: str, grid: str) -> None:
        if grid not in self.grids.get(community, []):
            raise UnknownPlaceError("grid", f"{grid} is not a grid of community {community}")

    def is_imported_from(self, plan: DistrictPlan) -> bool:
        """Whether `plan` is the plan last imported (read as today's model reads it, so a plan
        stored before a field with a default was added still counts as the same)."""
        return DistrictPlan.model_validate(self.plan) == plan

    # Decisions

    def reimport(self, plan: DistrictPlan) -> None:
        data = plan.model_dump(mode="json")
        self._reimported(plan=data)

    def draw_grid(self, community: str, grid: str) -> None:
        if community not in self.grids:
            raise UnknownPlaceError("community", f"{community} is not in {self.district}")
        if grid in self.grids[community]:
            raise UnknownPlaceError("grid", f"{grid} already exists in {community}")
        self._grid_drawn(community=community, grid=grid)

    def move_building(self, community: str, building: str, to_grid: str) -> None:
        if f"{community}/{building}" not in self.building_grid:
            raise UnknownPlaceError("building", f"{building} is not a building of {community}")
        self.require_grid(community, to_grid)
        self._building_moved(community=community, building=building, to_grid=to_grid)

    # Records

    @event("Reimported")
    def _reimported(self, plan: dict[str, Any]) -> None:
        self._load(plan)

    @event("GridDrawn")
    def _grid_drawn(self, community: str, grid: str) -> None:
        self.grids = {**self.grids, community: [*self.grids[community], grid]}

    @event("BuildingMoved")
    def _building_moved(self, community: str, building: str, to_grid: str) -> None:
        self.building_grid = {**self.building_grid, f"{community}/{building}": to_grid}
