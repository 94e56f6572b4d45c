"""The dispute ledger: kinds, states, sessions, breaches, referrals and time to settle."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from events.disputes import (
    AgreementBreached,
    AgreementSigned,
    DeclineReason,
    DisputeAccepted,
    DisputeDeadlineBreached,
    DisputeDeadlineExtended,
    DisputeDeclined,
    DisputeEvent,
    DisputeFiled,
    DisputeKind,
    DisputeReferred,
    DisputeResolved,
    FollowUpVisited,
    MediationSessionHeld,
    MediatorAssigned,
    MediatorKind,
    PartyConsented,
    PartyRefused,
    Referral,
    SessionMode,
)
from services.ledger.books import Books
from services.runtime.settings import BusSettings
from tests.conftest import eventually
from tests.ledger.builders import T0, Log, books_in_memory, publish

E = TypeVar("E", bound=DisputeEvent)


@pytest.fixture
def books() -> Iterator[Books]:
    books = books_in_memory()
    yield books
    books.database.datastore.close()


class Dispute:
    """One dispute's events, stamped from a shared log; `days` after T0."""

    def __init__(self, log: Log, community: str = "c01") -> None:
        self.log, self.id, self.community = log, uuid.uuid4(), community

    def event(self, cls: type[E], days: float, **fields: Any) -> E:
        envelope = self.log.at(days * 24, community=self.community)
        return cls(**envelope, dispute_id=self.id, **fields)

    def filed(self, kind: DisputeKind = DisputeKind.NEIGHBOUR) -> DisputeFiled:
        return self.event(DisputeFiled, 0, kind=kind, parties=["person-1", "person-2"])

    def mediated(self, days: float, mode: SessionMode = SessionMode.IN_PERSON) -> list[Any]:
        """Filed, accepted, staffed, consented and one session held by `days`."""
        return [self.filed(), self.event(DisputeAccepted, 0.5, due_at=T0 + timedelta(days=30)),
                self.event(MediatorAssigned, 1, mediator_id="m-1",
                           mediator_kind=MediatorKind.LAWYER),
                self.event(PartyConsented, 1, party_id="person-1"),
                self.event(MediationSessionHeld, days, session=1, mode=mode)]  # fmt: skip

    def settled(self, days: float) -> list[Any]:
        return [*self.mediated(days - 1), self.event(AgreementSigned, days - 1),
                self.event(FollowUpVisited, days, holding=True),
                self.event(DisputeResolved, days, sessions=1, breaches=0)]  # fmt: skip


def test_a_settled_dispute_is_resolved_with_its_sessions_and_days_to_settle(books: Books) -> None:
    log = Log()
    first, second = Dispute(log), Dispute(log)
    events = [*first.settled(4), *second.mediated(2, SessionMode.VIDEO)]
    assert books.disputes.apply(events) == len(events)

    figures = books.disputes.community("jinfeng", "c01")
    assert figures.disputes == 2
    assert (figures.by_state["resolved"], figures.by_state["mediating"]) == (1, 1)
    assert figures.by_kind["neighbour"] == 2
    assert (figures.sessions_in_person, figures.sessions_video) == (1, 1)
    assert figures.mean_days_filed_to_resolved == 4


def test_a_breached_agreement_reopens_mediation_and_extensions_and_breaches_are_counted(
    books: Books,
) -> None:
    dispute = Dispute(Log())
    due = T0 + timedelta(days=45)
    books.disputes.apply([
        *dispute.mediated(3), dispute.event(AgreementSigned, 3),
        dispute.event(AgreementBreached, 10, due_at=due),
        dispute.event(DisputeDeadlineExtended, 11, due_at=due),
        dispute.event(DisputeDeadlineBreached, 46, due_at=due),
    ])  # fmt: skip

    figures = books.disputes.community("jinfeng", "c01")
    assert figures.by_state["mediating"] == 1
    assert (figures.agreement_breaches, figures.deadline_breaches, figures.extensions) == (1, 1, 1)
    assert figures.mean_days_filed_to_resolved is None


ENDINGS: dict[str, Callable[[Dispute], list[DisputeEvent]]] = {
    "filed": lambda d: [],
    "accepted": lambda d: [d.event(DisputeAccepted, 1, due_at=T0 + timedelta(days=30))],
    "declined": lambda d: [d.event(DisputeDeclined, 1, reason=DeclineReason.IN_COURT)],
    "refused": lambda d: [d.event(PartyRefused, 1, party_id="person-2")],
    "agreement_signed": lambda d: [d.event(AgreementSigned, 2)],
    "referred": lambda d: [d.event(PartyConsented, 1, party_id="person-1"),
                           d.event(DisputeReferred, 2, to=Referral.LEGAL_AID)],
}  # fmt: skip


@pytest.mark.parametrize("state", ENDINGS)
def test_each_way_a_dispute_goes_shows_as_its_ledger_state(books: Books, state: str) -> None:
    dispute = Dispute(Log())
    books.disputes.apply([dispute.filed(), *ENDINGS[state](dispute)])

    figures = books.disputes.community("jinfeng", "c01")
    assert {s: n for s, n in figures.by_state.items() if n} == {state: 1}
    assert sum(figures.by_referral.values()) == (state == "referred")


def test_a_later_mediator_or_consent_does_not_undo_a_signed_agreement(books: Books) -> None:
    dispute = Dispute(Log())
    books.disputes.apply([*dispute.mediated(2), dispute.event(AgreementSigned, 3),
                          dispute.event(PartyConsented, 4, party_id="person-2")])  # fmt: skip
    assert books.disputes.community("jinfeng", "c01").by_state["agreement_signed"] == 1


def test_a_duplicate_dispute_event_has_no_second_effect(books: Books) -> None:
    log = Log()
    dispute = Dispute(log)
    events = dispute.mediated(2)
    books.disputes.apply(events)
    before = books.disputes.dump()

    assert books.disputes.apply([events[-1], events[-1]]) == 0
    assert books.disputes.dump() == before
    assert books.disputes.community("jinfeng", "c01").sessions_in_person == 1


def test_an_empty_community_and_the_district_summary_per_community(books: Books) -> None:
    log = Log()
    books.disputes.apply([Dispute(log).filed(), *Dispute(log, "c02").settled(3)])

    assert books.disputes.community("jinfeng", "c09").disputes == 0
    summaries = {s.community: s for s in books.disputes.district("jinfeng")}
    assert summaries["c02"].by_state["resolved"] == 1
    assert (summaries["c01"].street, summaries["c01"].disputes) == ("s01", 1)


def test_dispute_events_on_the_bus_reach_the_http_ledger_and_a_malformed_one_is_parked(
    ledger: TestClient, bus: BusSettings
) -> None:
    bad = ("shiliu.jinfeng.c01.tickets.dispute.filed", b'{"type": "DisputeFiled", "kind": "war"}')
    events = Dispute(Log(start=20)).settled(5)
    publish(bus, [bad, *events])

    figures = eventually(
        lambda: (
            (f := ledger.get("/ledger/jinfeng/c01/disputes").json())
            .get("by_state", {})
            .get("resolved")
            and f
        )
    )
    assert figures["mean_days_filed_to_resolved"] == 5
    [summary] = ledger.get("/ledger/jinfeng/disputes").json()
    assert (summary["community"], summary["disputes"]) == ("c01", 1)
    [parked] = eventually(lambda: ledger.get("/ops/parked?consumer=ledger-disputes").json())
    assert "not a known dispute event" in parked["error"]
    assert ledger.get("/ops/consumer").json()["consumers"]["ledger-disputes"]["applied"] == len(
        events
    )
