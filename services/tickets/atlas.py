"""The districts' territory maps and rulebooks, kept in the tickets store and cached by version.

Both are event-sourced aggregates (imported from files, then changed by events); reading them
is frequent, so each is cached and reloaded only when its stored version moved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from services.runtime.commands import Caller
from services.runtime.place import Place
from services.runtime.stamping import StampedCommands
from services.runtime.territory_plan import DistrictPlan
from services.tickets.geography import Locator
from services.tickets.routing import Rulebook, RulebookFile, rulebook_id
from services.tickets.territory import TerritoryMap, UnknownPlaceError, map_id

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")
_LOAD_ATTEMPTS = 5


class TerritoryChange(BaseModel):
    district: str
    community: str
    grids: list[str]
    position: int = 0


class Atlas:
    def __init__(self, app: Application[UUID]) -> None:
        self.app = app
        self._cache: dict[UUID, Aggregate] = {}
        self._locators: dict[str, Locator] = {}
        self._lock = threading.Lock()

    # Loading from files (idempotent: an unchanged file stores nothing)

    def import_plan(self, plan: DistrictPlan) -> bool:
        """Store the plan as the district's territory; True when something changed."""
        return self._again_if_raced(lambda: self._import_plan(plan))

    def publish_rules(self, district: str, rules: RulebookFile) -> int:
        """Publish every version not yet stored; return how many were new."""
        return self._again_if_raced(lambda: self._publish_rules(district, rules))

    def _again_if_raced(self, load: Callable[[], T]) -> T:
        """`load` again, from what is stored, when another instance of the service starting at
        the same moment stored its version first (then this one usually finds nothing new)."""
        for attempt in range(_LOAD_ATTEMPTS):
            try:
                return load()
            except IntegrityError:
                with self._lock:
                    self._cache.clear()  # it may hold an aggregate changed but not saved
                if attempt == _LOAD_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _import_plan(self, plan: DistrictPlan) -> bool:
        try:
            current = self.territory(plan.code)
        except UnknownPlaceError:
            self.app.save(TerritoryMap.import_plan(plan))
            return True
        if current.is_imported_from(plan):
            return False
        current.reimport(plan)
        self.app.save(current)
        return True

    def _publish_rules(self, district: str, rules: RulebookFile) -> int:
        try:
            book, before = self._get(rulebook_id(district), Rulebook), None
        except AggregateNotFoundError:
            book, before = Rulebook(district=district), 0
        known = len(book.versions)
        for version in rules.versions:
            book.publish(version)
        if before == 0 or len(book.versions) != known:
            self.app.save(book)
        return len(book.versions) - known

    # Reading

    def territory(self, district: str) -> TerritoryMap:
        try:
            return self._get(map_id(district), TerritoryMap)
        except AggregateNotFoundError:
            raise UnknownPlaceError("district", f"{district} has no territory loaded") from None

    def locator(self, district: str) -> Locator:
        """Where reports are, by coordinates or address; re-indexed when the map changed."""
        territory = self.territory(district)
        with self._lock:
            cached = self._locators.get(district)
            if cached is None or cached.territory is not territory:
                cached = self._locators[district] = Locator(territory)
        return cached

    def rulebook(self, district: str) -> Rulebook:
        try:
            return self._get(rulebook_id(district), Rulebook)
        except AggregateNotFoundError:
            raise UnknownPlaceError("district", f"{district} has no routing rules") from None

    def locate(
        self, district: str, community: str, grid: str | None = None, *, street: str | None = None
    ) -> Place:
        """Where `community` (and `grid`) lie in the district's territory, the street derived
        from the community; a `street` that is given must be that one."""
        territory = self.territory(district)
        actual = territory.street_for(community)
        if street is not None and street != actual:
            raise UnknownPlaceError("street", f"{community} lies in street {actual}, not {street}")
        if grid is not None:
            territory.require_grid(community, grid)
        return Place(district, actual, community, grid)

    def redraw(
        self,
        commands: StampedCommands,
        caller: Caller,
        where: tuple[str, str],
        payload: dict[str, str],
        change: Callable[[TerritoryMap], None],
    ) -> TerritoryChange:
        """Change a district's map (a grid drawn, a building moved) as a guarded command."""
        district, community = where

        def decide() -> tuple[list[Aggregate], TerritoryChange]:
            fresh = self.territory(district)
            found: object = self.app.repository.get(fresh.id)  # a copy to change, not the cache
            assert isinstance(found, TerritoryMap)
            place = Place(district, found.street_for(community), community)
            commands.stamp(caller, place, None)  # runs the guard
            change(found)
            grids = list(found.grids[community])
            return [found], TerritoryChange(district=district, community=community, grids=grids)

        return commands.run(
            caller, "redraw_territory", payload, decide, TerritoryChange, lock=map_id(district)
        )

    def _get(self, aggregate_id: UUID, kind: type[A]) -> A:
        """A fresh copy when the store has a newer version than the cache; else the cache."""
        stored = self.app.recorder.select_events(aggregate_id, desc=True, limit=1)
        if not stored:
            raise AggregateNotFoundError(aggregate_id)
        with self._lock:
            cached = self._cache.get(aggregate_id)
            if cached is None or cached.version != stored[0].originator_version:
                loaded: object = self.app.repository.get(aggregate_id)
                assert isinstance(loaded, kind)
                self._cache[aggregate_id] = loaded
                cached = loaded
        assert isinstance(cached, kind)
        return cached
