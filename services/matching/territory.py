"""The places matching knows, read from the districts' territory files at start: which
street each community lies in and which grids it has (matching stores places, it does not
redraw them; grids drawn later in the tickets service are not known here until the file
says so)."""

from __future__ import annotations

from collections.abc import Iterable

from services.runtime.place import Place
from services.runtime.territory_plan import DistrictPlan, places_in


class UnknownPlaceError(Exception):
    code = "territory.unknown_place"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Places:
    """District → community → (street, grids), from the loaded territory files."""

    def __init__(self) -> None:
        self._communities: dict[tuple[str, str], tuple[str, frozenset[str]]] = {}
        self._names: dict[tuple[str, str], str] = {}

    def load(self, plans: Iterable[DistrictPlan]) -> None:
        communities: dict[tuple[str, str], tuple[str, set[str]]] = {}
        names: dict[tuple[str, str], str] = {}
        for plan in plans:
            for street, community, grid in places_in(plan):
                communities.setdefault((plan.code, community), (street, set()))[1].add(grid)
            names |= {(plan.code, c.code): c.name for s in plan.streets for c in s.communities
                      if c.name}  # fmt: skip
        self._names = names
        self._communities = {
            key: (street, frozenset(grids)) for key, (street, grids) in communities.items()
        }

    def locate(self, district: str, community: str, grid: str | None = None) -> Place:
        """The place, with its street; `UnknownPlaceError` naming the field otherwise."""
        found = self._communities.get((district, community))
        if found is None:
            raise UnknownPlaceError("community", f"{district}/{community} is not a known community")
        street, grids = found
        if grid is not None and grid not in grids:
            raise UnknownPlaceError("grid", f"{community} has no grid {grid}")
        return Place(district, street, community, grid)

    def name_of(self, district: str, community: str) -> str:
        """The community's name in the territory file, or its code when the file gives none."""
        return self._names.get((district, community), community)

    def knows_district(self, district: str) -> bool:
        return any(d == district for d, _ in self._communities)
