"""Deadlines produce warnings, breaches and escalations as events, once, across restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from events.disputes import DisputeKind
from events.tickets import Channel, HandlerKind, HoldReason
from services.runtime.commands import Caller
from services.runtime.nats_server import free_port
from services.runtime.place import Place
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import Tickets
from services.tickets.mediation.application import PartyDetails
from services.tickets.routing import DEFAULT_RULES, RulebookFile
from tests.conftest import demo_territory, eventually, tickets_settings
from tests.support.stack import answers_health

STAFF = Caller("gw-1", "grid_worker")
UNIT = Caller("unit-a-staff", "unit_staff")
PLACE = Place("jinfeng", "s01", "c01", "g01")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _tickets(path: Path, clock: Clock, **extra: Any) -> Tickets:
    settings = tickets_settings(
        BusSettings(), StoreSettings(sqlite_path=path), relay_enabled=False, **extra
    )
    return Tickets(settings, clock=clock).open()


def _dispatched(t: Tickets, category: str = "flying_wire_charging") -> UUID:
    d = t.dispatcher
    ticket = d.receive(
        STAFF,
        place=PLACE,
        channel=Channel.GRID_PATROL,
        proactive=True,
        requester_id=None,
        title="飞线充电",
        category=None,
        building="b001",
    )
    ticket_id = ticket.ticket.id
    d.triage(STAFF, ticket_id, category=category, grid=None)
    d.dispatch(STAFF, ticket_id, handler_id="unit-a", handler_kind=HandlerKind.UNIT)
    return ticket_id


def _facts(t: Tickets, ticket_id: UUID) -> Counter[str]:
    notifications = t.store.recorder.select_notifications(1, 100_000)
    return Counter(
        n.topic.rsplit(".", 1)[-1] for n in notifications if n.originator_id == ticket_id
    )


def _catch_up(t: Tickets) -> None:
    asyncio.run(t.desk_view.run_once())


def test_a_warning_then_one_breach_and_one_escalation_survive_a_restarted_scheduler(
    tmp_path: Path,
) -> None:
    clock = Clock()
    first = _tickets(tmp_path / "tickets.sqlite", clock)
    ticket_id = _dispatched(first)  # accept within 1 h, warned at 80 %
    _catch_up(first)
    assert first.scheduler.sweep_once(clock.now) == {}
    clock.now += timedelta(minutes=50)
    assert first.scheduler.sweep_once(clock.now) == {"warned": 1}
    clock.now += timedelta(minutes=15)
    _catch_up(first)
    assert first.scheduler.sweep_once(clock.now) == {"breached": 1, "escalated": 1}
    first.close()  # "killed" before its view saw the breach

    restarted = _tickets(tmp_path / "tickets.sqlite", clock)
    try:
        assert restarted.scheduler.sweep_once(clock.now) == {}  # stale view proposes; refused
        _catch_up(restarted)
        assert restarted.scheduler.sweep_once(clock.now) == {}
        facts = _facts(restarted, ticket_id)
        assert (facts["DeadlineWarned"], facts["DeadlineBreached"], facts["Escalated"]) == (1, 1, 1)
        ticket = restarted.dispatcher.get_ticket(ticket_id)
        assert ticket.level == "community"
        assert ticket.deadline is not None
        assert ticket.deadline.due_at == clock.now + timedelta(hours=12)
    finally:
        restarted.close()


def test_two_schedulers_on_one_store_record_each_breach_once(tmp_path: Path) -> None:
    clock = Clock()
    one, two = (_tickets(tmp_path / "tickets.sqlite", clock) for _ in range(2))
    try:
        ids = [_dispatched(one) for _ in range(5)]
        _catch_up(one)
        _catch_up(two)
        clock.now += timedelta(hours=2)
        counts = [one.scheduler.sweep_once(clock.now), two.scheduler.sweep_once(clock.now)]
        assert sum(c.get("breached", 0) for c in counts) == 5
        assert all(_facts(one, i)["DeadlineBreached"] == 1 for i in ids)
    finally:
        one.close()
        two.close()


def test_time_on_hold_does_not_count_against_the_resolve_deadline(tmp_path: Path) -> None:
    clock = Clock()
    t = _tickets(tmp_path / "tickets.sqlite", clock)
    try:
        ticket_id = _dispatched(t)
        tid = ticket_id
        t.dispatcher.accept(UNIT, tid, "unit-a")
        due = t.dispatcher.get_ticket(tid).deadline
        assert due is not None
        t.dispatcher.put_on_hold(UNIT, tid, "unit-a", HoldReason.WAITING_FOR_PARTS)
        _catch_up(t)
        clock.now += timedelta(days=3)  # far past the 24 h resolve deadline, but on hold
        assert t.scheduler.sweep_once(clock.now) == {}
        resumed = t.dispatcher.resume(UNIT, tid, "unit-a").ticket.deadline
        assert resumed is not None
        assert resumed.due_at == due.due_at + timedelta(days=3)
    finally:
        t.close()


def test_each_ticket_keeps_the_rule_version_it_was_triaged_under(tmp_path: Path) -> None:
    clock = Clock()
    rules = RulebookFile.load(DEFAULT_RULES)
    v1 = rules.versions[0]
    faster = [c.model_copy(update={"accept_within": timedelta(minutes=10)}) for c in v1.categories]
    v2 = v1.model_copy(
        update={"version": 2, "categories": faster, "effective_from": clock.now + timedelta(days=1)}
    )
    path = tmp_path / "rules.json"
    path.write_text(RulebookFile(versions=[v1, v2]).model_dump_json(), encoding="utf-8")
    t = _tickets(tmp_path / "tickets.sqlite", clock, rules_file=path)
    try:
        before = t.dispatcher.get_ticket(_dispatched(t))
        clock.now += timedelta(days=2)
        after = t.dispatcher.get_ticket(_dispatched(t))
        assert (before.rule_version, after.rule_version) == (1, 2)
        assert before.deadline is not None
        assert after.deadline is not None
        assert before.deadline.due_at - before.received_at == timedelta(hours=1)
        assert after.deadline.due_at - after.received_at == timedelta(minutes=10)
    finally:
        t.close()


def test_the_scheduler_process_killed_around_a_deadline_breaches_and_escalates_once(
    tmp_path: Path,
) -> None:
    """A real `shiliu serve tickets` process, killed with SIGKILL around the deadline."""
    rules = RulebookFile.load(DEFAULT_RULES)
    quick = [
        # warned after 3 s, breached after 12 s: a wide window to kill it between the two
        c.model_copy(update={"accept_within": timedelta(seconds=12), "warn_fraction": 0.25})
        for c in rules.versions[0].categories
    ]
    rules_path = tmp_path / "rules.json"
    rules_path.write_text(
        RulebookFile(
            versions=[rules.versions[0].model_copy(update={"categories": quick})]
        ).model_dump_json(),
        encoding="utf-8",
    )
    store = tmp_path / "tickets.sqlite"
    setup = _tickets(store, Clock(), rules_file=rules_path)
    setup.store.clock = setup.store.commands.clock = lambda: datetime.now(UTC)
    key = setup.settings.master_key
    port = free_port()
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "SHILIU_TICKETS_STORE__SQLITE_PATH": str(store),
            "SHILIU_TICKETS_MASTER_KEY": key,
            "SHILIU_TICKETS_RELAY_ENABLED": "false",
            "SHILIU_TICKETS_RULES_FILE": str(rules_path),
            "SHILIU_TICKETS_TERRITORY_FILES": f'["{demo_territory()}"]',
            "SHILIU_TICKETS_DEADLINE_SWEEP_SECONDS": "0.05",
            "SHILIU_TICKETS_POLL_SECONDS": "0.05",
            "SHILIU_TICKETS_PORT": str(port),
        }
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "shiliu"), "serve", "tickets"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "serve.log").open("ab"),
        )
        started.append(process)
        eventually(lambda: answers_health(f"http://127.0.0.1:{port}"), timeout=60)
        return process

    try:
        process = start()  # running before the ticket exists, so it sees the warning come due
        ticket_id = _dispatched(setup)
        snapshot = setup.dispatcher.get_ticket(ticket_id)
        setup.close()
        assert snapshot.deadline is not None
        due = snapshot.deadline.due_at

        def facts() -> Counter[str]:
            check = _tickets(store, Clock(), rules_file=rules_path)
            try:
                return _facts(check, ticket_id)
            finally:
                check.close()

        eventually(lambda: facts()["DeadlineWarned"] == 1, timeout=30)
        process.send_signal(signal.SIGKILL)  # killed between the warning and the breach
        process.wait()
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.5)  # passes, unwatched
        assert facts()["DeadlineBreached"] == 0
        process = start()
        eventually(lambda: facts()["DeadlineBreached"] == 1, timeout=30)
        process.send_signal(signal.SIGKILL)
        process.wait()
        process = start()  # restarted after the breach: nothing new is due
        time.sleep(2.0)
        process.send_signal(signal.SIGKILL)
        process.wait()
        final = facts()
        assert (final["DeadlineWarned"], final["DeadlineBreached"], final["Escalated"]) == (1, 1, 1)
    finally:
        for child in started:  # never leave a scheduler running after a failure
            if child.poll() is None:
                child.kill()
                child.wait()


def test_a_dispute_past_its_month_is_breached_once_by_the_same_scheduler(
    tmp_path: Path,
) -> None:
    clock = Clock()
    t = _tickets(tmp_path / "tickets.sqlite", clock)
    try:
        dispute_id = _accepted_dispute(t)
        _catch_up(t)
        clock.now += timedelta(days=29)
        assert t.scheduler.sweep_once(clock.now) == {}
        clock.now += timedelta(days=2)
        assert t.scheduler.sweep_once(clock.now) == {"breached": 1}
        assert t.scheduler.sweep_once(clock.now) == {}  # the view has not caught up yet
        _catch_up(t)
        assert t.scheduler.sweep_once(clock.now) == {}
        assert _facts(t, dispute_id)["DeadlineBreached"] == 1
    finally:
        t.close()


def _accepted_dispute(t: Tickets) -> UUID:
    desk = t.desk
    staff = Caller("sec-1", "community_secretary")
    filed = desk.file(
        staff,
        place=PLACE,
        kind=DisputeKind.NEIGHBOUR,
        parties=[PartyDetails("person-1", "王秀兰"), PartyDetails("person-2", "李建国")],
        summary="楼上漏水到楼下",
    )
    desk.accept(staff, filed.dispute.id)
    return filed.dispute.id


def test_deadlines_that_fail_for_good_never_hold_back_the_others_due_after_them(
    tmp_path: Path,
) -> None:
    """More than a page (500) of watches that fail every time, due first: the later ones still
    warn, and each failing one is counted, kept visible and not retried on every pass."""
    clock = Clock()
    t = _tickets(tmp_path / "tickets.sqlite", clock)
    try:
        broken = {_dispatched(t) for _ in range(500)}
        clock.now += timedelta(seconds=1)  # the last two are due a second after the others
        healthy = [_dispatched(t), _dispatched(t)]
        _catch_up(t)
        watch = t.scheduler.watchers["ticket"]

        def fails_for_the_broken(caller: Caller, aggregate_id: UUID) -> list[str]:
            if aggregate_id in broken:
                msg = f"ticket {aggregate_id} cannot be loaded"
                raise RuntimeError(msg)
            return watch(caller, aggregate_id)

        t.scheduler.watchers["ticket"] = fails_for_the_broken
        clock.now += timedelta(minutes=50)
        assert t.scheduler.sweep_once(clock.now) == {"warned": 2}
        assert t.scheduler.failures == 500
        assert t.scheduler.failing.report()["failing"] == 500
        assert t.scheduler.sweep_once(clock.now) == {}  # the failed ones wait a pass or more
        assert t.scheduler.failures == 500
        assert all(_facts(t, ticket_id)["DeadlineWarned"] == 1 for ticket_id in healthy)
    finally:
        t.close()
