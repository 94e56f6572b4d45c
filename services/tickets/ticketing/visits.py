"""Door-knocking visits (敲门行动): a grid worker's call on a building's households.

The notes (the visit diary, 民情日记) are about residents: they are sealed in the personal-data
vault, never in events. What the worker found may open proactive tickets, in the same save.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.runtime.place import Stamp


class InvalidVisitError(Exception):
    code = "visit.invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class VisitNotFoundError(Exception):
    code = "visit.not_found"

    def __init__(self, visit_id: UUID) -> None:
        super().__init__(f"no visit with id {visit_id}")


MAX_HOUSEHOLDS = 500


class Visit(Aggregate):
    """One door-knocking round in a building of a grid."""

    @staticmethod
    def create_id(
        visit_id: UUID,
        stamp: Stamp,
        building: str | None,
        households: int,
        household_ids: list[str],
        opened_tickets: list[UUID],
    ) -> UUID:
        return visit_id

    @event("Recorded")
    def __init__(
        self,
        *,
        visit_id: UUID,
        stamp: Stamp,
        building: str | None,
        households: int,
        household_ids: list[str],
        opened_tickets: list[UUID],
    ) -> None:
        self.place = stamp.place
        self.visited_at = stamp.occurred_at
        self.visitor_id = stamp.actor_id
        self.building = building
        self.households = households
        self.household_ids = household_ids
        self.opened_tickets = opened_tickets

    @classmethod
    def record(
        cls,
        *,
        visit_id: UUID,
        stamp: Stamp,
        building: str | None,
        households: int,
        household_ids: list[str],
        opened_tickets: list[UUID],
    ) -> Visit:
        if stamp.place.grid is None:
            raise InvalidVisitError("grid", "a visit happens in a grid")
        if not 0 <= households <= MAX_HOUSEHOLDS:
            raise InvalidVisitError("households", f"must be 0–{MAX_HOUSEHOLDS}")
        return cls(
            visit_id=visit_id,
            stamp=stamp,
            building=building,
            households=households,
            household_ids=household_ids,
            opened_tickets=opened_tickets,
        )
