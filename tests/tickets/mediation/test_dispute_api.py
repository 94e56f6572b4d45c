"""Disputes through HTTP on a real nats-server and SQLite: lifecycle, privacy, errors."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from services.runtime.commands import Caller
from services.runtime.publishing import EventIds
from services.runtime.settings import StoreSettings
from services.runtime.stamping import StampedCommands
from services.tickets.mediation.application import MediationDesk
from services.tickets.mediation.publishing import DISPUTES
from services.tickets.publishing import translator
from services.tickets.store import TicketsStore
from tests.support.tokens import bearer
from tests.tickets.helpers import assert_unknown_place
from tests.tickets.mediation.dispute_cases import (
    AGREEMENT,
    MEDIATOR,
    MINUTES,
    RESIDENT,
    SECRETARY,
    SUMMARY,
    act,
    filing,
    later,
    new_dispute,
)

GRID = {"district": "jinfeng", "street": "s01", "community": "c01", "grid": "g01"}
GRID_WORKER = bearer("gw-1", "grid_worker", scope=GRID)
STAFF = bearer("staff-1", "community_staff")
REASON = {"reason": "复核调解记录"}
MARKERS = [text.split(":")[0] for text in (MINUTES, AGREEMENT, SUMMARY)]
"""The texts' ASCII parts: found in the bytes however the store encodes the rest."""


def store_of(tickets: TestClient) -> TicketsStore:
    store: TicketsStore = tickets.app.state.tickets.store  # type: ignore[attr-defined]
    return store


def published(tickets: TestClient, dispute_id: str) -> list[Any]:
    """The dispute's integration events, as the relay would publish them."""
    board = store_of(tickets)
    translate = translator(board.mapper, EventIds(bytes(32)), (DISPUTES,))
    events = [translate(n) for n in board.recorder.select_notifications(1, 10_000)]
    return [e for e in events if e is not None and str(getattr(e, "dispute_id", "")) == dispute_id]


def test_a_dispute_is_filed_accepted_consented_mediated_twice_agreed_and_resolved(
    tickets: TestClient,
) -> None:
    dispute_id = new_dispute(tickets, "held")
    second = act(tickets, dispute_id, "sessions", {"mode": "in_person", "minutes": "第二次"})
    assert [s["session"] for s in second["sessions"]] == [1, 2]
    assert act(tickets, dispute_id, "agreement", {"text": AGREEMENT})["state"] == "agreed"
    resolved = act(tickets, dispute_id, "follow-ups", {"holding": True})
    assert resolved["state"] == "resolved"
    types = [e.type for e in published(tickets, dispute_id)]
    assert types[0] == "DisputeFiled"
    assert types[-2:] == ["FollowUpVisited", "DisputeResolved"]
    assert types.count("MediationSessionHeld") == 2
    assert published(tickets, dispute_id)[-1].sessions == 2


def test_acceptance_gives_a_deadline_one_month_out(tickets: TestClient) -> None:
    accepted = act(tickets, new_dispute(tickets), "acceptance")
    due = datetime.fromisoformat(accepted["due_at"])
    assert abs(due - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)


def test_a_refusal_blocks_sessions_with_409_naming_the_state_and_allows_a_referral(
    tickets: TestClient,
) -> None:
    dispute_id = new_dispute(tickets, "staffed")
    refused = act(tickets, dispute_id, "parties/person-2/refusal")
    assert refused["state"] == "refused"
    held = tickets.post(
        f"/disputes/{dispute_id}/sessions", json={"mode": "video", "minutes": MINUTES},
        headers=MEDIATOR,
    )  # fmt: skip
    assert held.status_code == 409
    assert held.json()["error"]["code"] == "dispute.illegal_transition"
    assert held.json()["error"]["state"] == "refused"
    assert act(tickets, dispute_id, "referral", {"to": "legal_aid"})["referral"] == "legal_aid"


def test_a_session_before_every_party_consents_is_refused_naming_who_is_awaited(
    tickets: TestClient,
) -> None:
    dispute_id = new_dispute(tickets, "staffed")
    act(tickets, dispute_id, "parties/person-1/consent", headers=RESIDENT)
    held = tickets.post(
        f"/disputes/{dispute_id}/sessions", json={"mode": "video", "minutes": MINUTES},
        headers=MEDIATOR,
    )  # fmt: skip
    assert held.status_code == 409
    assert held.json()["error"]["awaiting"] == ["person-2"]


def test_a_resident_consents_only_for_themselves(tickets: TestClient) -> None:
    dispute_id = new_dispute(tickets, "mediating")
    response = tickets.post(f"/disputes/{dispute_id}/parties/person-2/consent", headers=RESIDENT)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "policy.not_your_own"


def test_an_extension_moves_the_deadline_only_once_every_party_has_consented(
    tickets: TestClient,
) -> None:
    dispute_id = new_dispute(tickets, "mediating")
    due = later(50)
    requested = act(tickets, dispute_id, "extension-requests", {"due_at": due})
    first_due = requested["due_at"]
    one = act(tickets, dispute_id, "extension-requests/consents/person-1", headers=RESIDENT)
    assert one["due_at"] == first_due
    assert one["extension"]["awaiting"] == ["person-2"]
    both = act(tickets, dispute_id, "extension-requests/consents/person-2")
    assert datetime.fromisoformat(both["due_at"]) == datetime.fromisoformat(due)
    assert both["extension"] is None
    assert "DisputeDeadlineExtended" in [e.type for e in published(tickets, dispute_id)]


def test_an_extension_to_an_earlier_date_is_refused_naming_the_field(
    tickets: TestClient,
) -> None:
    dispute_id = new_dispute(tickets, "mediating")
    response = tickets.post(
        f"/disputes/{dispute_id}/extension-requests", json={"due_at": later(10)},
        headers=MEDIATOR,
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.due_at"


def test_an_extension_past_the_calendars_end_in_utc_is_refused_and_the_desk_keeps_listing(
    tickets: TestClient,
) -> None:
    dispute_id = new_dispute(tickets, "mediating")
    response = tickets.post(
        f"/disputes/{dispute_id}/extension-requests",
        json={"due_at": "9999-12-31T23:59:59-23:59"}, headers=MEDIATOR,
    )  # fmt: skip
    assert response.status_code == 422
    [refusal] = response.json()["error"]["fields"]
    assert (refusal["field"], refusal["rule"]) == ("body.due_at", "datetime_out_of_range")
    assert tickets.get("/health/ready").status_code == 200


def test_a_breach_reopens_mediation_with_a_new_deadline(tickets: TestClient) -> None:
    dispute_id = new_dispute(tickets, "agreed")
    reopened = act(tickets, dispute_id, "breach")
    assert reopened["state"] == "mediating"
    assert reopened["breaches"] == 1
    [breached] = [e for e in published(tickets, dispute_id) if e.type == "AgreementBreached"]
    assert breached.due_at == datetime.fromisoformat(reopened["due_at"])
    again = act(tickets, dispute_id, "sessions", {"mode": "video", "minutes": "再次调解"})
    assert len(again["sessions"]) == 2


def test_two_racing_watchers_breach_a_passed_deadline_exactly_once(tickets: TestClient) -> None:
    dispute_id = new_dispute(tickets, "mediating")
    board = store_of(tickets)
    later_clock = StampedCommands(board, lambda: datetime.now(UTC) + timedelta(days=31))
    later_clock.listeners = board.listeners
    desks = [MediationDesk(later_clock, board.atlas, board.vault) for _ in range(2)]
    system = Caller(actor_id="system:deadlines", role="system")
    results: list[list[str]] = []

    def watch(desk: MediationDesk) -> None:
        for _ in range(5):
            results.append(desk.watch_deadline(system, UUID(dispute_id)))

    threads = [threading.Thread(target=watch, args=(d,)) for d in desks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r for rs in results for r in rs) == ["breached"]
    types = [e.type for e in published(tickets, dispute_id)]
    assert types.count("DisputeDeadlineBreached") == 1
    snapshot = tickets.get(f"/disputes/{dispute_id}", headers=MEDIATOR).json()
    assert snapshot["deadline_breached"] is True


@pytest.mark.parametrize("stores", ["sqlite"], indirect=True)  # the files are scanned
def test_minutes_agreements_names_and_phones_never_reach_the_store_file_or_the_events(
    tickets: TestClient, stores: dict[str, StoreSettings]
) -> None:
    dispute_id = new_dispute(tickets, "agreed")
    act(tickets, dispute_id, "follow-ups", {"holding": False, "notes": "NOTES-pp03 又占道"})
    path = stores["tickets"].sqlite_path
    assert path is not None
    wal = path.with_name(path.name + "-wal")
    raw = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    board = store_of(tickets)
    stored = b"".join(n.state for n in board.recorder.select_notifications(1, 10_000))
    events = "".join(e.model_dump_json() for e in published(tickets, dispute_id))
    assert "AgreementBreached" in events
    assert b"neighbour" in stored  # the store is not encrypted here: absence means something
    for secret in (*MARKERS, "NOTES-pp03", "13812345678", "13987654321", "王秀兰"):
        assert secret.encode() not in raw, secret
        assert secret.encode() not in stored, secret
        assert secret not in events, secret


def test_minutes_show_metadata_only_without_a_reason_and_are_revealed_and_logged_with_one(
    tickets: TestClient,
) -> None:
    dispute_id = new_dispute(tickets, "held")
    url = f"/disputes/{dispute_id}/sessions/1"
    masked = tickets.get(url, headers=MEDIATOR).json()
    assert masked["masked"] is True
    assert masked["minutes"] is None
    assert masked["mode"] == "video"
    revealed = tickets.get(url, params=REASON, headers=MEDIATOR).json()
    assert revealed["minutes"] == MINUTES
    log = tickets.get("/ops/personal-access").json()
    assert {(r["person_id"], r["kind"]) for r in log if r["record_id"].startswith(dispute_id)} == {
        ("person-1", "dispute.session"),
        ("person-2", "dispute.session"),
    }


def test_revealing_minutes_needs_the_records_escalation(tickets: TestClient) -> None:
    dispute_id = new_dispute(tickets, "agreed")
    url = f"/disputes/{dispute_id}/agreement"
    assert tickets.get(url, headers=GRID_WORKER).json()["masked"] is True
    refused = tickets.get(url, params=REASON, headers=GRID_WORKER)
    assert refused.status_code == 403
    assert tickets.get(url, params=REASON, headers=SECRETARY).json()["text"] == AGREEMENT


def test_erasing_one_party_leaves_the_other_partys_copy_of_the_minutes(
    tickets: TestClient,
) -> None:
    dispute_id = new_dispute(tickets, "held")
    erased = tickets.post(
        "/persons/person-2/erasure", json={"reason": "当事人申请删除"}, headers=SECRETARY
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["records"] == 2  # the filing and the session minutes
    url = f"/disputes/{dispute_id}/sessions/1"
    assert tickets.get(url, params=REASON, headers=MEDIATOR).json()["minutes"] == MINUTES
    tickets.post("/persons/person-1/erasure", json={"reason": "当事人申请删除"}, headers=SECRETARY)
    assert tickets.get(url, params=REASON, headers=MEDIATOR).status_code == 410


def test_a_retried_session_with_its_idempotency_key_is_recorded_once(
    tickets: TestClient,
) -> None:
    dispute_id = new_dispute(tickets, "consented")
    headers = {**MEDIATOR, "Idempotency-Key": "session-1"}
    body = {"mode": "in_person", "minutes": MINUTES}
    first = tickets.post(f"/disputes/{dispute_id}/sessions", json=body, headers=headers)
    again = tickets.post(f"/disputes/{dispute_id}/sessions", json=body, headers=headers)
    assert first.json()["dispute"] == again.json()["dispute"]
    assert len(again.json()["dispute"]["sessions"]) == 1


def test_bad_filings_are_refused_with_422_naming_the_field(tickets: TestClient) -> None:
    one = filing()["parties"][:1]
    twice = [filing()["parties"][0]] * 2
    cases = [
        (filing(parties=one), "body.parties"),
        (filing(parties=twice), "body.parties"),
        (filing(kind="noise"), "body.kind"),
        (filing(summary=""), "body.summary"),
        ({**filing(), "minutes": "x"}, "body.minutes"),
    ]
    for body, field in cases:
        response = tickets.post("/disputes", json=body, headers=STAFF)
        assert response.status_code == 422, body
        assert field in [f["field"] for f in response.json()["error"]["fields"]], response.text


def test_an_unknown_dispute_is_404(tickets: TestClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert tickets.get(f"/disputes/{missing}", headers=MEDIATOR).status_code == 404
    response = tickets.post(f"/disputes/{missing}/acceptance", headers=MEDIATOR)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "dispute.not_found"


def test_an_illegal_transition_is_409_with_the_state(tickets: TestClient) -> None:
    dispute_id = new_dispute(tickets, "filed")
    response = tickets.post(f"/disputes/{dispute_id}/follow-ups", json={"holding": True},
                            headers=MEDIATOR)  # fmt: skip
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "dispute.illegal_transition",
        "message": "cannot follow up on a dispute that is filed",
        "state": "filed",
    }


def test_a_dispute_for_a_place_not_in_the_territory_is_refused_422_naming_the_field(
    tickets: TestClient,
) -> None:
    cases = [
        ({"street": "s02"}, "body.street"),  # c01 lies in s01: filed there, c01 could not see it
        ({"community": "c99", "street": "s09"}, "body.community"),
        ({"grid": "g999"}, "body.grid"),
        ({"street": "1e400"}, "body.street"),
    ]
    for changes, field in cases:
        assert_unknown_place(
            tickets.post("/disputes", json=filing(**changes), headers=STAFF), field
        )
