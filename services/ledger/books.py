"""The ledger's books: one projection per event family, and how each family is consumed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic

from pydantic import TypeAdapter

from events.disputes import AnyDisputeEvent, DisputeEvent
from events.tickets import AnyTicketEvent, TicketEvent, VisitRecorded
from events.topology import ConsumerSpec
from events.wishes import AnyWishEvent, WishEvent
from services.ledger.book import Book, E
from services.ledger.disputes import DisputeLedger
from services.ledger.projection import WishLedger
from services.ledger.tickets import TicketLedger
from services.ledger.visits import VisitLedger
from services.runtime.database import Cursor, Database
from services.runtime.intake import Intake
from services.runtime.parked import retry_parked
from services.runtime.parking import ParkingLot

WISH_EVENT: TypeAdapter[WishEvent] = TypeAdapter(AnyWishEvent)
TICKET_EVENT: TypeAdapter[TicketEvent] = TypeAdapter(AnyTicketEvent)
DISPUTE_EVENT: TypeAdapter[DisputeEvent] = TypeAdapter(AnyDisputeEvent)
VISIT_EVENT: TypeAdapter[VisitRecorded] = TypeAdapter(VisitRecorded)


@dataclass(frozen=True)
class Family(Generic[E]):
    """One family of events: its book (with its durable consumer) and how its messages parse."""

    noun: str
    """What a message of the family is, for the parking lot's errors ("wish event")."""
    book: Book[E]
    adapter: TypeAdapter[E]

    @property
    def spec(self) -> ConsumerSpec:
        return self.book.spec

    @property
    def intake(self) -> Intake[E]:
        return self.book.intake


class Books:
    """The wish, ticket, dispute and visit ledgers, sharing one store and one parking lot."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.parking = ParkingLot(database)
        self.wishes = WishLedger(database, self.parking)
        self.tickets = TicketLedger(database, self.parking)
        self.disputes = DisputeLedger(database, self.parking)
        self.visits = VisitLedger(database, self.parking)
        self.families: tuple[Family[Any], ...] = (
            Family("wish event", self.wishes, WISH_EVENT),
            Family("ticket event", self.tickets, TICKET_EVENT),
            Family("dispute event", self.disputes, DISPUTE_EVENT),
            Family("visit event", self.visits, VISIT_EVENT),
        )

    def create_tables(self) -> None:
        """The books' and the parking lot's tables, when they are missing (at the ledger's
        start, never at construction)."""
        self.parking.create_tables()
        for family in self.families:
            family.book.create_tables()

    def retry_parked(self, parked_id: int) -> str | None:
        """Put a parked message through its book again (`services.runtime.parked`)."""
        return retry_parked(self.database, self.families, parked_id)

    def street_of(self, district: str, community: str) -> str | None:
        """The community's street, as whichever book has seen the community records it."""
        for family in self.families:
            if (street := family.book.street_of(district, community)) is not None:
                return street
        return None

    def dump(self) -> dict[str, Any]:
        """Every row of every book and every feed's mark, in a stable order, read in one
        transaction: a consistent snapshot that a rebuild to the same marks must reproduce."""
        with self.database.snapshot() as tx:
            return self.dump_in(tx)

    def dump_in(self, tx: Cursor) -> dict[str, Any]:
        rows: dict[str, Any] = {}
        for family in self.families:
            rows.update(family.book.dump_in(tx))
        rows["marks"] = {f.spec.durable: f.intake.marks_in(tx) for f in self.families}
        return rows
