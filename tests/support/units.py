"""Member units enrolled in the tickets service's roster the way the bus would tell it:
the registry's own events, numbered on from the roster's mark, settled by its intake."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

from events.envelope import Actor, Role, Territory
from events.units import (
    SuspensionReason,
    UnitEvent,
    UnitJoinedAlliance,
    UnitKind,
    UnitRegistered,
    UnitSuspended,
)
from services.runtime.database import Database
from services.runtime.parking import ParkingLot
from services.tickets.main import Tickets, TicketsSettings
from services.tickets.units import UnitRoster

TEST_UNITS = (
    "unit-a", "unit-b", "unit-c", "unit-m", "unit-1", "unit-2", "unit-z", "unit-r", "u1", "u2",
    "a", "b", "c", "unit-c01-1", "unit-c01-2",
)  # fmt: skip
"""The units the tickets tests claim with, enrolled in c01 by the `tickets` fixture."""


def envelope(unit_id: str, where: Territory, sequence: int) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "event_id": uuid4(), "occurred_at": now, "recorded_at": now, "territory": where,
        "actor": Actor(id="staff-1", role=Role.COMMUNITY_STAFF), "source": "matching",
        "position": sequence, "sequence": sequence, "unit_id": unit_id,
    }  # fmt: skip


def enrolment(
    unit_ids: Iterable[str], *, after: int, where: Territory, suspended: bool = False
) -> list[UnitEvent]:
    """Registered and joined (and suspended, if asked), numbered from `after + 1`."""
    events: list[UnitEvent] = []
    for unit_id in unit_ids:
        number = after + len(events)
        events.append(
            UnitRegistered.model_validate(
                {**envelope(unit_id, where, number + 1), "name": unit_id, "kind": UnitKind.COMPANY}
            )
        )
        events.append(UnitJoinedAlliance.model_validate(envelope(unit_id, where, number + 2)))
        if suspended:
            events.append(
                UnitSuspended.model_validate(
                    {**envelope(unit_id, where, number + 3), "reason": SuspensionReason.COMPLAINTS}
                )
            )
    return events


def enrol(
    roster: UnitRoster,
    unit_ids: Iterable[str],
    *,
    community: str = "c01",
    street: str = "s01",
    suspended: bool = False,
) -> None:
    """Enrol the units in the alliance of `community` (jinfeng)."""
    after = roster.intake.marks().get("matching.unit", 0)
    where = Territory(district="jinfeng", street=street, community=community)
    roster.apply(enrolment(unit_ids, after=after, where=where, suspended=suspended))


def roster_on(store: Application[UUID], unit_ids: Iterable[str] = TEST_UNITS) -> UnitRoster:
    """A roster in `store`'s own database with `unit_ids` enrolled in c01."""
    database = Database(getattr(store.recorder, "datastore"))  # noqa: B009
    roster = UnitRoster(database, ParkingLot(database))
    roster.create_tables()
    enrol(roster, unit_ids)
    return roster


def enrolling_test_units(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Tickets.open()` enrols `TEST_UNITS` in c01 through the real roster, once per store."""
    opened = Tickets.open

    def open_enrolled(self: Tickets) -> Tickets:
        first = not self._opened
        result = opened(self)
        if first and not self.units.intake.marks():
            enrol(self.units, TEST_UNITS)
        return result

    monkeypatch.setattr(Tickets, "open", open_enrolled)


def enrolled_in(settings: TicketsSettings, unit_ids: Iterable[str]) -> None:
    """Enrol units in c01 in the store a tickets process will open (a second process knows
    only what its store holds)."""
    tickets = Tickets(settings).open()
    try:
        enrol(tickets.units, unit_ids)
    finally:
        tickets.close()
