"""The dispute aggregate on its own: decisions, guards and what each records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.disputes import DeclineReason, DisputeKind, MediatorKind, Referral, SessionMode
from services.runtime.place import Place, Stamp
from services.tickets.mediation.domain import (
    Dispute,
    DisputeState,
    DisputeTransitionError,
    InvalidDisputeError,
    NotAPartyError,
    NotReadyError,
)

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
PLACE = Place("jinfeng", "s01", "c01", "g01")
PARTIES = ["person-1", "person-2"]


def at(days: float = 0) -> Stamp:
    return Stamp(PLACE, "mediator-1", "mediator", START + timedelta(days=days))


def names(dispute: Dispute) -> list[str]:
    return [type(e).__name__ for e in dispute.collect_events()]


def mediating(parties: list[str] = PARTIES) -> Dispute:
    dispute = Dispute.file(stamp=at(), kind=DisputeKind.NEIGHBOUR, parties=parties)
    dispute.accept(at())
    dispute.assign("mediator-1", MediatorKind.TEAM_MEMBER, at())
    return dispute


def consented(parties: list[str] = PARTIES) -> Dispute:
    dispute = mediating(parties)
    for party in parties:
        dispute.consent(party, at())
    return dispute


def agreed() -> Dispute:
    dispute = consented()
    dispute.hold_session(SessionMode.IN_PERSON, at(1))
    dispute.sign_agreement(at(2))
    return dispute


def test_a_dispute_mediated_in_two_sessions_and_holding_at_follow_up_is_resolved() -> None:
    dispute = consented()
    assert dispute.hold_session(SessionMode.IN_PERSON, at(1)) == 1
    assert dispute.hold_session(SessionMode.VIDEO, at(3)) == 2
    dispute.sign_agreement(at(4))
    dispute.follow_up(True, at(20))
    assert dispute.state is DisputeState.RESOLVED
    assert names(dispute)[-4:] == ["SessionHeld", "AgreementSigned", "FollowUpVisited", "Resolved"]


def test_acceptance_sets_a_deadline_one_month_out() -> None:
    dispute = Dispute.file(stamp=at(), kind=DisputeKind.FAMILY, parties=PARTIES)
    dispute.accept(at(2))
    assert dispute.due_at == START + timedelta(days=32)


@pytest.mark.parametrize("parties", [["person-1"], ["person-1", "person-1"]])
def test_a_dispute_needs_two_or_more_distinct_parties(parties: list[str]) -> None:
    with pytest.raises(InvalidDisputeError) as raised:
        Dispute.file(stamp=at(), kind=DisputeKind.BOUNDARY, parties=parties)
    assert raised.value.field == "parties"


def test_a_declined_dispute_cannot_be_accepted() -> None:
    dispute = Dispute.file(stamp=at(), kind=DisputeKind.LABOUR, parties=PARTIES)
    dispute.decline(DeclineReason.IN_COURT, at())
    with pytest.raises(DisputeTransitionError) as raised:
        dispute.accept(at())
    assert raised.value.state is DisputeState.DECLINED


def test_a_refusal_blocks_sessions_and_leaves_only_a_referral() -> None:
    dispute = mediating()
    dispute.consent("person-1", at())
    dispute.refuse("person-2", at())
    with pytest.raises(DisputeTransitionError) as raised:
        dispute.hold_session(SessionMode.VIDEO, at(1))
    assert raised.value.state is DisputeState.REFUSED
    dispute.refer(Referral.COURT, at(2))
    assert dispute.state is DisputeState.REFERRED


def test_a_session_waits_for_every_party_to_consent() -> None:
    dispute = mediating(["person-1", "person-2", "person-3"])
    dispute.consent("person-1", at())
    with pytest.raises(NotReadyError) as raised:
        dispute.hold_session(SessionMode.IN_PERSON, at(1))
    assert raised.value.awaiting == ("person-2", "person-3")


def test_a_session_needs_a_mediator() -> None:
    dispute = Dispute.file(stamp=at(), kind=DisputeKind.NEIGHBOUR, parties=PARTIES)
    dispute.accept(at())
    for party in PARTIES:
        dispute.consent(party, at())
    with pytest.raises(NotReadyError) as raised:
        dispute.hold_session(SessionMode.IN_PERSON, at(1))
    assert raised.value.missing == "mediator"


def test_several_mediators_join_and_a_second_assignment_of_one_records_nothing() -> None:
    dispute = mediating()
    dispute.assign("lawyer-1", MediatorKind.LAWYER, at())
    dispute.assign("judge-1", MediatorKind.RETIRED_JUDGE, at())
    dispute.collect_events()
    dispute.assign("lawyer-1", MediatorKind.LAWYER, at())
    assert names(dispute) == []
    assert [m for m, _ in dispute.mediators] == ["mediator-1", "lawyer-1", "judge-1"]


def test_only_a_party_may_consent() -> None:
    with pytest.raises(NotAPartyError):
        mediating().consent("person-9", at())


def test_an_agreement_needs_a_session() -> None:
    with pytest.raises(NotReadyError) as raised:
        consented().sign_agreement(at(1))
    assert raised.value.missing == "session"


def test_a_broken_agreement_at_follow_up_reopens_mediation_with_a_new_month() -> None:
    dispute = agreed()
    dispute.follow_up(False, at(10))
    assert dispute.state is DisputeState.MEDIATING
    assert dispute.due_at == START + timedelta(days=40)
    assert dispute.breaches == 1
    assert names(dispute)[-2:] == ["FollowUpVisited", "AgreementBreached"]
    with pytest.raises(NotReadyError):
        dispute.sign_agreement(at(11))  # re-mediation needs a session of its own


def test_a_reported_breach_reopens_mediation_and_the_resolution_counts_it() -> None:
    dispute = agreed()
    dispute.report_breach(at(5))
    dispute.hold_session(SessionMode.VIDEO, at(6))
    dispute.sign_agreement(at(7))
    dispute.follow_up(True, at(30))
    [*_, resolved] = dispute.collect_events()
    assert resolved.breaches == 1  # type: ignore[attr-defined]
    assert resolved.sessions == 2  # type: ignore[attr-defined]


def test_an_extension_needs_every_party_and_moves_the_deadline_on_the_last_consent() -> None:
    dispute = consented(["person-1", "person-2", "person-3"])
    later = START + timedelta(days=45)
    dispute.request_extension(later, at(20))
    dispute.consent_to_extension("person-1", at(21))
    dispute.consent_to_extension("person-2", at(21))
    assert dispute.due_at == START + timedelta(days=30)
    dispute.consent_to_extension("person-3", at(22))
    assert dispute.due_at == later
    assert dispute.extension_due is None
    assert names(dispute)[-2:] == ["ExtensionConsented", "DeadlineExtended"]


def test_an_extension_must_be_later_than_the_current_deadline() -> None:
    dispute = mediating()
    with pytest.raises(InvalidDisputeError) as raised:
        dispute.request_extension(START + timedelta(days=29), at(1))
    assert raised.value.field == "due_at"


def test_consenting_to_an_extension_needs_a_request() -> None:
    with pytest.raises(NotReadyError):
        mediating().consent_to_extension("person-1", at(1))


def test_watch_breaches_exactly_once_per_due_date() -> None:
    dispute = mediating()
    assert dispute.watch(at(29)) == []
    assert dispute.watch(at(30)) == ["breached"]
    assert dispute.watch(at(31)) == []
    assert names(dispute).count("DeadlineBreached") == 1


def test_an_extended_deadline_can_be_breached_once_again() -> None:
    dispute = consented()
    assert dispute.watch(at(31)) == ["breached"]
    dispute.request_extension(START + timedelta(days=40), at(31))
    for party in PARTIES:
        dispute.consent_to_extension(party, at(31))
    assert dispute.watch(at(35)) == []
    assert dispute.watch(at(40)) == ["breached"]
    assert dispute.watch(at(41)) == []


def test_a_replayed_dispute_does_not_breach_a_due_date_twice() -> None:
    dispute = mediating()
    dispute.watch(at(30))
    events = dispute.collect_events()
    replayed: Dispute | None = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed is not None
    assert replayed.watch(at(32)) == []


def test_an_agreed_refused_or_referred_case_has_no_deadline_to_breach() -> None:
    refused = mediating()
    refused.refuse("person-1", at())
    referred = mediating()
    referred.refer(Referral.LEGAL_AID, at())
    for dispute in (agreed(), refused, referred):
        assert dispute.watch(at(60)) == []
