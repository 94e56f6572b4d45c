"""The ticket aggregate alone: routing, deadlines and the escalation ladder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.tickets import Channel, HandlerKind
from services.runtime.place import Place, Stamp
from services.tickets.routing import DEFAULT_RULES, RulebookFile
from services.tickets.ticketing.domain import (
    InvalidTicketError,
    NotTheHandlerError,
    Ticket,
    TicketState,
    TicketTransitionError,
)

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
RULES = RulebookFile.load(DEFAULT_RULES).versions[0]


def at(minutes: float) -> Stamp:
    return Stamp(
        Place("jinfeng", "s01", "c01", "g01"),
        "gw-1",
        "grid_worker",
        START + timedelta(minutes=minutes),
    )


def dispatched(category: str = "flying_wire_charging") -> Ticket:
    ticket = Ticket.receive(
        stamp=at(0),
        channel=Channel.PHONE,
        proactive=False,
        requester_id="person-1",
        title="飞线充电",
        category=None,
        building="b001",
    )
    ticket.triage(category=category, grid="g01", rule=RULES.rule(category), version=1, stamp=at(1))
    ticket.dispatch(handler_kind=HandlerKind.UNIT, handler_id="unit-a", stamp=at(2))
    return ticket


def test_breaches_climb_the_ladder_to_the_district_and_stop_there() -> None:
    ticket = dispatched()
    levels, minutes = [], 2.0
    for _ in range(6):
        assert ticket.deadline is not None
        minutes = (ticket.deadline.due_at - START).total_seconds() / 60 + 1
        ticket.watch(at(minutes))
        levels.append(ticket.level)
    assert levels == ["community", "street", "district", "district", "district", "district"]
    assert ticket.breaches == 4  # grid accept, community, street, district: then nothing more
    assert ticket.watch(at(minutes + 10_000)) == []


def test_a_deadline_is_warned_once_before_it_is_breached() -> None:
    ticket = dispatched()  # accept within 1 h: the warning at 48 min after dispatch
    assert ticket.watch(at(30)) == []
    assert ticket.watch(at(51)) == ["warned"]
    assert ticket.watch(at(55)) == []
    assert ticket.watch(at(63)) == ["breached", "escalated"]


def test_only_the_dispatched_handler_may_accept() -> None:
    ticket = dispatched()
    with pytest.raises(NotTheHandlerError):
        ticket.accept("unit-b", at(3))
    ticket.accept("unit-a", at(3))
    assert ticket.state is TicketState.ACCEPTED


def test_a_closed_ticket_refuses_further_work_and_has_no_deadline() -> None:
    ticket = dispatched()
    ticket.close_not_fixed(at(5))
    assert ticket.state is TicketState.CLOSED_NOT_FIXED
    assert ticket.deadline is None
    assert ticket.watch(at(500)) == []
    with pytest.raises(TicketTransitionError):
        ticket.accept("unit-a", at(6))


def test_a_request_without_a_requester_must_be_proactive() -> None:
    with pytest.raises(InvalidTicketError, match="requester_id"):
        Ticket.receive(
            stamp=at(0),
            channel=Channel.WEB,
            proactive=False,
            requester_id=None,
            title="路灯不亮",
            category=None,
            building=None,
        )
