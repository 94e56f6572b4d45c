"""The ledger's books: one projection per event family, and how each family is consumed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from events.disputes import AnyDisputeEvent, DisputeEvent
from events.envelope import IntegrationEvent
from events.tickets import AnyTicketEvent, TicketEvent, VisitRecorded
from events.topology import LEDGER_DISPUTES, LEDGER_TICKETS, LEDGER_WISHES, ConsumerSpec
from events.wishes import AnyWishEvent, WishEvent
from services.ledger.disputes import DisputeLedger
from services.ledger.projection import WishLedger
from services.ledger.tickets import TicketLedger
from services.runtime.database import Cursor, Database

E = TypeVar("E", bound=IntegrationEvent)
WISH_EVENT: TypeAdapter[WishEvent] = TypeAdapter(AnyWishEvent)
TICKET_EVENT: TypeAdapter[TicketEvent | VisitRecorded] = TypeAdapter(AnyTicketEvent)
DISPUTE_EVENT: TypeAdapter[DisputeEvent] = TypeAdapter(AnyDisputeEvent)


@dataclass(frozen=True)
class Family(Generic[E]):
    """One family of events: its durable consumer, how its messages parse, where they apply."""

    noun: str
    """What a message of the family is, for the parking lot's errors ("wish event")."""
    spec: ConsumerSpec
    adapter: TypeAdapter[E]
    apply_in: Callable[[Cursor, Sequence[E]], int]


class Books:
    """The wish, ticket and dispute ledgers, sharing one store."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.wishes = WishLedger(database)
        self.tickets = TicketLedger(database)
        self.disputes = DisputeLedger(database)
        self.families: tuple[Family[Any], ...] = (
            Family("wish event", LEDGER_WISHES, WISH_EVENT, self.wishes.apply_in),
            Family("ticket event", LEDGER_TICKETS, TICKET_EVENT, self.tickets.apply_in),
            Family("dispute event", LEDGER_DISPUTES, DISPUTE_EVENT, self.disputes.apply_in),
        )

    def street_of(self, district: str, community: str) -> str | None:
        """The community's street, as whichever book has seen the community records it."""
        for book in (self.wishes, self.tickets, self.disputes):
            if (street := book.street_of(district, community)) is not None:
                return street
        return None

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every book, in a stable order: what a rebuild must reproduce exactly."""
        return {**self.wishes.dump(), **self.tickets.dump(), **self.disputes.dump()}
