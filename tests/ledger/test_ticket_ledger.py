"""The ticket ledger: states, fix rate, money, deadlines and durations, once per event."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from events.tickets import (
    Channel,
    DeadlineKind,
    HandlerKind,
    HoldReason,
    Level,
    Outcome,
    ReopenReason,
    ReturnReason,
    TicketAccepted,
    TicketClosed,
    TicketDeadlineBreached,
    TicketDeadlineWarned,
    TicketDispatched,
    TicketEscalated,
    TicketEvent,
    TicketMerged,
    TicketPutOnHold,
    TicketRated,
    TicketReceived,
    TicketReopened,
    TicketResolutionReported,
    TicketResolutionVerified,
    TicketResumed,
    TicketReturned,
    TicketTriaged,
    TicketWorkStarted,
)
from events.wishes import ClaimMode, WishCategory, WishPosted
from services.ledger.books import Books
from services.runtime.settings import BusSettings
from tests.conftest import eventually
from tests.ledger.builders import T0, Log, books_in_memory, numbered, publish

E = TypeVar("E", bound=TicketEvent)


@pytest.fixture
def books() -> Iterator[Books]:
    books = books_in_memory()
    yield books
    books.database.datastore.close()


class Ticket:
    """One ticket's events, stamped from a shared log."""

    def __init__(self, log: Log, community: str = "c01") -> None:
        self.log, self.id, self.community = log, uuid.uuid4(), community

    def _e(self, hours: float) -> dict[str, Any]:
        return {**self.log.at(hours, community=self.community), "ticket_id": self.id}

    def event(self, cls: type[E], hours: float, **fields: Any) -> E:
        return cls(**self._e(hours), **fields)

    def received(self, hours: float = 0, **fields: Any) -> TicketReceived:
        fields.setdefault("channel", Channel.WEB)
        return TicketReceived(**self._e(hours), title="楼道灯不亮", **fields)

    def triaged(self, hours: float, category: str = "lighting") -> TicketTriaged:
        return TicketTriaged(**self._e(hours), category=category, grid="g01", rule_version=1,
                             level=Level.GRID, handler_kind=HandlerKind.UNIT)  # fmt: skip

    def dispatched(self, hours: float) -> TicketDispatched:
        return TicketDispatched(**self._e(hours), handler_kind=HandlerKind.UNIT,
                                handler_id="unit-a", level=Level.GRID, rule_version=1,
                                accept_due_at=T0 + timedelta(days=1))  # fmt: skip

    def accepted(self, hours: float) -> TicketAccepted:
        due = T0 + timedelta(days=3)
        return TicketAccepted(**self._e(hours), handler_id="unit-a", resolve_due_at=due)

    def reported(self, hours: float, amount: str | None = None) -> TicketResolutionReported:
        value = None if amount is None else Decimal(amount)
        return TicketResolutionReported(**self._e(hours), handler_id="unit-a", amount=value)

    def reopened(self, hours: float, reopenings: int = 1) -> TicketReopened:
        return TicketReopened(**self._e(hours), reason=ReopenReason.POOR_RATING,
                              reopenings=reopenings)  # fmt: skip

    def rated(self, hours: float, rating: int) -> TicketRated:
        return TicketRated(**self._e(hours), rating=rating)

    def closed(self, hours: float, outcome: Outcome = Outcome.FIXED) -> TicketClosed:
        return TicketClosed(**self._e(hours), outcome=outcome)

    def handled(self, amount: str | None = None, outcome: Outcome = Outcome.FIXED) -> list[Any]:
        """Received at 0 h, accepted at 2 h, reported at 10 h, closed at 24 h."""
        return [self.received(0), self.triaged(0.5), self.dispatched(1), self.accepted(2),
                self.event(TicketWorkStarted, 3), self.reported(10, amount),
                self.event(TicketResolutionVerified, 12), self.rated(20, 5),
                self.closed(24, outcome)]  # fmt: skip


def test_a_handled_ticket_is_closed_with_its_channel_category_rating_and_durations(
    books: Books,
) -> None:
    log = Log()
    fixed, proactive = Ticket(log), Ticket(log)
    events = [*fixed.handled("120.50"),
              proactive.received(1, channel=Channel.GRID_PATROL, proactive=True)]  # fmt: skip
    assert books.tickets.apply(events) == len(events)

    figures = books.tickets.community("jinfeng", "c01")
    assert figures.tickets == 2
    assert figures.by_state["closed"] == 1
    assert figures.by_state["received"] == 1
    assert figures.proactive == 1
    assert figures.by_channel["web"] == 1
    assert figures.by_channel["grid_patrol"] == 1
    assert figures.by_category == {"lighting": 1, "uncategorised": 1}
    assert figures.money_involved == "120.50"
    assert figures.mean_rating == 5
    assert figures.received_to_accepted.mean_hours == 2
    assert figures.received_to_closed.count == 1
    assert figures.received_to_closed.median_hours == 24


def test_the_fix_rate_counts_closed_not_fixed_against_it_instead_of_leaving_it_out(
    books: Books,
) -> None:
    log = Log()
    outcomes = [Outcome.FIXED, Outcome.FIXED, Outcome.FIXED, Outcome.NOT_FIXED]
    books.tickets.apply([e for o in outcomes for e in Ticket(log).handled(outcome=o)])

    figures = books.tickets.community("jinfeng", "c01")
    assert (figures.closed_fixed, figures.closed_not_fixed) == (3, 1)
    assert figures.by_state["closed_not_fixed"] == 1
    assert figures.fix_rate == 0.75


def test_money_is_counted_once_per_ticket_with_the_last_amount_after_a_reopen(
    books: Books,
) -> None:
    log = Log()
    ticket, other = Ticket(log), Ticket(log)
    books.tickets.apply(numbered([
        *ticket.handled("100")[:-2], ticket.rated(20, 1), ticket.reopened(21),
        ticket.reported(30, "80"), ticket.closed(40), *other.handled("2.50"),
    ]))  # fmt: skip

    figures = books.tickets.community("jinfeng", "c01")
    assert figures.money_involved == "82.50"
    assert figures.reopenings == 1
    assert figures.mean_rating == 3  # the reopened ticket's last rating stands: (1 + 5) / 2


def test_a_redelivered_or_republished_event_has_no_second_effect(books: Books) -> None:
    log = Log()
    ticket = Ticket(log)
    handled = ticket.handled("10")[:-1]
    breach = ticket.event(TicketDeadlineBreached, 30, deadline=DeadlineKind.RESOLVE,
                          level=Level.GRID, due_at=T0)  # fmt: skip
    events = numbered([*handled, breach])
    breach = events[-1]
    books.tickets.apply(events)
    before = books.tickets.dump()

    assert books.tickets.apply(events) == 0
    assert books.tickets.apply([breach, breach.model_copy(update={"event_id": uuid.uuid4()})]) == 0
    assert books.tickets.dump() == before
    figures = books.tickets.community("jinfeng", "c01")
    assert (figures.deadline_breaches, figures.money_involved) == (1, "10")


def test_deadline_warnings_breaches_and_escalations_by_level_are_counted(books: Books) -> None:
    log = Log()
    ticket = Ticket(log)
    deadline = {"deadline": DeadlineKind.ACCEPT, "level": Level.GRID, "due_at": T0}
    escalation = {"from_level": Level.GRID, "resolve_due_at": T0 + timedelta(days=2)}
    books.tickets.apply([
        ticket.received(0), ticket.triaged(1), ticket.dispatched(1),
        TicketDeadlineWarned(**log.at(20), ticket_id=ticket.id, **deadline),
        TicketDeadlineBreached(**log.at(24), ticket_id=ticket.id, **deadline),
        TicketEscalated(**log.at(24), ticket_id=ticket.id, to_level=Level.COMMUNITY, **escalation),
        TicketEscalated(**log.at(48), ticket_id=ticket.id, to_level=Level.STREET, **escalation),
    ])  # fmt: skip

    figures = books.tickets.community("jinfeng", "c01")
    assert (figures.deadline_warnings, figures.deadline_breaches) == (1, 1)
    assert figures.escalations_by_level == {"community": 1, "street": 1}
    assert figures.by_state["dispatched"] == 1


FOLLOW_UPS: dict[str, Callable[[Ticket], list[TicketEvent]]] = {
    "triaged": lambda t: [t.dispatched(1), t.event(TicketReturned, 2, handler_id="unit-a",
                                                   reason=ReturnReason.NO_CAPACITY)],
    "on_hold": lambda t: [t.accepted(1), t.event(TicketPutOnHold, 2, reason=HoldReason.WEATHER)],
    "in_progress": lambda t: [t.accepted(1), t.event(TicketPutOnHold, 2, reason=HoldReason.OTHER),
                              t.event(TicketResumed, 3, held_seconds=60)],
    "merged": lambda t: [t.event(TicketMerged, 1, into_ticket_id=uuid.uuid4())],
    "verified": lambda t: [t.reported(1), t.event(TicketResolutionVerified, 2)],
}  # fmt: skip


@pytest.mark.parametrize("state", FOLLOW_UPS)
def test_returned_held_resumed_merged_and_verified_tickets_take_their_ledger_states(
    books: Books, state: str
) -> None:
    ticket = Ticket(Log())
    books.tickets.apply([ticket.received(0), *FOLLOW_UPS[state](ticket)])
    by_state = books.tickets.community("jinfeng", "c01").by_state
    assert {s: n for s, n in by_state.items() if n} == {state: 1}


def test_a_community_with_no_tickets_has_zero_figures(books: Books) -> None:
    figures = books.tickets.community("jinfeng", "c09")
    assert figures.tickets == 0
    assert set(figures.by_state.values()) == {0}
    assert figures.fix_rate is None
    assert figures.money_involved == "0"
    assert figures.received_to_closed.count == 0


def test_the_district_summary_lists_each_community_on_its_street(books: Books) -> None:
    log = Log()
    books.tickets.apply([*Ticket(log).handled("5"), Ticket(log, "c02").received(1),
                         Ticket(log, "c02").received(2)])  # fmt: skip

    summaries = {s.community: s for s in books.tickets.district("jinfeng")}
    assert set(summaries) == {"c01", "c02"}
    assert (summaries["c01"].street, summaries["c01"].fix_rate) == ("s01", 1.0)
    assert summaries["c02"].tickets == 2
    assert books.tickets.district("elsewhere") == []


def _wish(log: Log) -> WishPosted:
    return WishPosted(**log.at(0), wish_id=uuid.uuid4(), resident_id="person-1", title="饺子",
                      category=WishCategory.MEAL, claim_mode=ClaimMode.EXCLUSIVE,
                      quota=1)  # fmt: skip


def test_a_later_wish_position_does_not_make_the_ticket_ledger_skip_earlier_tickets(
    books: Books,
) -> None:
    assert books.wishes.apply([_wish(Log(start=50))]) == 1
    assert books.tickets.apply(Ticket(Log(start=10)).handled()[:3]) == 3
    assert books.wishes.intake.marks() == {"tickets.wish": 1}
    assert books.tickets.intake.marks() == {"tickets.ticket": 3}
    assert books.tickets.community("jinfeng", "c01").tickets == 1


def test_an_event_past_a_gap_in_its_feed_is_held_until_the_gap_is_filled(books: Books) -> None:
    events = Ticket(Log()).handled("5")
    assert books.tickets.apply([*events[:2], *events[3:]]) == 2
    assert books.tickets.intake.marks() == {"tickets.ticket": 2}
    assert books.tickets.apply(events[2:]) == len(events) - 2
    assert books.tickets.intake.marks() == {"tickets.ticket": len(events)}
    assert books.tickets.community("jinfeng", "c01").money_involved == "5"


def test_ticket_events_on_the_bus_reach_the_http_ledger_and_a_malformed_one_is_parked(
    ledger: TestClient, bus: BusSettings
) -> None:
    log = Log(start=10)
    ticket = Ticket(log)
    bad = ("shiliu.jinfeng.c01.tickets.ticket.received", b'{"type": "TicketReceived"}')
    publish(bus, [_wish(Log(start=90)), *ticket.handled("66.60"), bad])

    figures = eventually(
        lambda: (
            (f := ledger.get("/ledger/jinfeng/c01/tickets").json())
            .get("by_state", {})
            .get("closed")
            and f
        )
    )
    assert (figures["money_involved"], figures["fix_rate"]) == ("66.60", 1.0)
    [summary] = ledger.get("/ledger/jinfeng/tickets").json()
    assert (summary["community"], summary["street"], summary["tickets"]) == ("c01", "s01", 1)
    [parked] = eventually(lambda: ledger.get("/ops/parked?consumer=ledger-tickets").json())
    assert parked["subject"] == bad[0]
    assert "not a known ticket event" in parked["error"]
    status = ledger.get("/ops/consumer").json()
    applied = {name: c["applied"] for name, c in status["consumers"].items()}
    assert applied == {"ledger-wishes": 1, "ledger-tickets": 9, "ledger-disputes": 0,
                       "ledger-visits": 0}  # fmt: skip
