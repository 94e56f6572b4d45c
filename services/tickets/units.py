"""The member units (驻区单位) as the tickets service knows them: its own view of the unit
registry's events, fed from the bus by a durable consumer (exactly once, gaps healed from
matching), and what it answers a claim: only a unit registered in the wish's community, a
member of its alliance and not suspended may claim."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import TypeAdapter

from events.topology import TICKETS_UNITS, ConsumerSpec
from events.units import (
    AnyUnitEvent,
    UnitEvent,
    UnitJoinedAlliance,
    UnitLeftAlliance,
    UnitRegistered,
    UnitReinstated,
    UnitSuspended,
)
from services.runtime.database import Cursor, Database
from services.runtime.intake import Delivery, Intake, Verdict
from services.runtime.outbox import encode
from services.runtime.parking import ParkingLot
from services.runtime.place import Place

UNIT_EVENT: TypeAdapter[UnitEvent] = TypeAdapter(AnyUnitEvent)
_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:unit_roster} (unit_id TEXT PRIMARY KEY, "
    "district TEXT NOT NULL, community TEXT NOT NULL, membership TEXT NOT NULL, "
    "changed_at TEXT NOT NULL)",
)
_MEMBERSHIP_AFTER = {
    UnitRegistered: "none",
    UnitJoinedAlliance: "member",
    UnitSuspended: "suspended",
    UnitReinstated: "member",
    UnitLeftAlliance: "left",
}


class UnitNotAllowedError(Exception):
    """A claim by a unit the registry has not enrolled in the wish's community's alliance."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"unit_id: {message}")
        self.code = code
        self.field = "unit_id"


class UnitRoster:
    """One row per registered unit: its community and where it stands in the alliance."""

    noun = "unit event"
    spec: ConsumerSpec = TICKETS_UNITS
    adapter = UNIT_EVENT

    def __init__(self, database: Database, parking: ParkingLot) -> None:
        self.database = database
        self.parking = parking
        self.intake: Intake[UnitEvent] = Intake(
            database, self.spec.durable, self.spec.feeds, self.apply_event, parking
        )

    def create_tables(self) -> None:
        """Its tables, when they are missing (at the owner's start, never at construction)."""
        self.parking.create_tables()
        self.database.execute_script(_DDL)
        self.intake.create_tables()

    @staticmethod
    def apply_event(tx: Cursor, event: UnitEvent) -> None:
        membership = _MEMBERSHIP_AFTER.get(type(event))
        if membership is None:  # details and agreements do not decide claims
            return
        at = event.occurred_at.isoformat()
        if isinstance(event, UnitRegistered):
            where = event.territory
            tx.execute(
                "INSERT INTO {t:unit_roster} VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (unit_id) DO NOTHING",
                (event.unit_id, where.district, where.community, membership, at),
            )
            return
        tx.execute(
            "UPDATE {t:unit_roster} SET membership = ?, changed_at = ? WHERE unit_id = ?",
            (membership, at, event.unit_id),
        )

    def apply(self, events: Sequence[UnitEvent]) -> int:
        """Settle `events` as if delivered together (tools, tests); count the applied."""
        verdicts = self.intake.settle([Delivery.replayed(e, encode(e)) for e in events])
        return verdicts.count(Verdict.APPLIED)

    def check_claim(self, unit_id: str, place: Place) -> None:
        """Raise `UnitNotAllowedError` unless the unit may claim a wish at `place`."""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT district, community, membership FROM {t:unit_roster} WHERE unit_id = ?",
                (unit_id,),
            )
            row = tx.fetchone()
        if row is None:
            raise UnitNotAllowedError("unit.unknown", f"no unit is registered as {unit_id}")
        if (row["district"], row["community"]) != (place.district, place.community):
            message = f"{unit_id} belongs to {row['community']}, not {place.community}"
            raise UnitNotAllowedError("unit.not_in_alliance", message)
        if row["membership"] == "suspended":
            raise UnitNotAllowedError("unit.suspended", f"{unit_id} is suspended from the alliance")
        if row["membership"] != "member":
            message = f"{unit_id} is not a member of {place.community}'s alliance"
            raise UnitNotAllowedError("unit.not_in_alliance", message)
