"""What every book of the ledger shares: its tables' owner applies one event at a time, and
its intake decides which events to apply (exactly once, in feed order)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from events.envelope import IntegrationEvent
from events.topology import ConsumerSpec
from services.runtime.database import Cursor, Database
from services.runtime.intake import Delivery, Intake, Verdict
from services.runtime.outbox import encode
from services.runtime.parking import ParkingLot

E = TypeVar("E", bound=IntegrationEvent)


class Book(ABC, Generic[E]):
    """One family's tables in the ledger's store, fed by one durable consumer."""

    spec: ClassVar[ConsumerSpec]
    ddl: ClassVar[tuple[str, ...]]

    def __init__(self, database: Database, parking: ParkingLot) -> None:
        self.database = database
        self.intake: Intake[E] = Intake(
            database, self.spec.durable, self.spec.feeds, self.apply_event, parking
        )

    def create_tables(self) -> None:
        """Its tables, when they are missing (at the owner's start, never at construction)."""
        self.database.execute_script(self.ddl)
        self.intake.create_tables()

    @staticmethod
    @abstractmethod
    def apply_event(tx: Cursor, event: E) -> None:
        """Change the book's rows for one event; the intake has checked it is the next one."""

    def apply(self, events: Sequence[E]) -> int:
        """Settle `events` in one transaction (as if delivered together); count the applied."""
        verdicts = self.intake.settle([Delivery.replayed(e, encode(e)) for e in events])
        return verdicts.count(Verdict.APPLIED)

    def street_of(self, district: str, community: str) -> str | None:
        """The community's street, as this book's rows record it."""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                f"SELECT street FROM {{t:{self.main_table}}} "
                "WHERE district = ? AND community = ? LIMIT 1",
                (district, community),
            )
            row = tx.fetchone()
        return str(row["street"]) if row else None

    main_table: ClassVar[str]

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(re.findall(r"CREATE TABLE IF NOT EXISTS \{t:([a-z_]+)\}", " ".join(self.ddl)))

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Every row, in a stable order: what a rebuild must reproduce exactly."""
        with self.database.transaction(commit=False) as tx:
            return self.dump_in(tx)

    def dump_in(self, tx: Cursor) -> dict[str, list[dict[str, Any]]]:
        rows: dict[str, list[dict[str, Any]]] = {}
        for table in self.tables:
            tx.execute(f"SELECT * FROM {{t:{table}}}")
            rows[table] = sorted((dict(row) for row in tx.fetchall()), key=_stable)
        return rows


def _stable(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(value) for value in row.values())
