"""The embedded default as an operator runs it: `shiliu up` in its own process, killed and
started again."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from uuid import UUID

import pytest

from services.runtime.database import eventsourcing_env
from services.runtime.nats_server import is_port_free
from services.runtime.settings import StoreSettings
from services.tickets.main import tickets_store
from shiliu.demo import COMMUNITIES
from tests.conftest import eventually
from tests.support.stack import UpProcess, answers_health


def test_up_starts_again_with_no_manual_step_after_the_previous_up_was_killed_with_sigkill(
    tmp_path: Path,
) -> None:
    stack = UpProcess(tmp_path / "data")
    try:
        stack.start()
        stack.wait_serving()
        assert len(stack.nats_server_pids()) == 1
        stack.kill()

        def nats_is_gone() -> bool:
            return not stack.nats_server_pids() and is_port_free("127.0.0.1", stack.ports["nats"])

        eventually(nats_is_gone, timeout=15)
        stack.start()
        stack.wait_serving()
        assert len(stack.nats_server_pids()) == 1
        assert stack.stop() == 0, stack.log_tail()
        assert not stack.nats_server_pids()
    finally:
        stack.close()


@pytest.mark.parametrize("when", ["starting", "serving"])
def test_up_stops_on_ctrl_c_after_its_nats_server_was_killed(tmp_path: Path, when: str) -> None:
    """The bus gone, whether while the services still start (they wait for it) or once they
    serve: Ctrl-C must still stop everything (it used to hang, waiting for servers that were
    still starting and for shutdowns reconnecting to the gone bus)."""
    stack = UpProcess(tmp_path / "data")
    try:
        stack.start()
        if when == "serving":
            stack.wait_serving()
        else:  # the ledger starts first: provisioned, the tickets service still starting
            stack.wait_until(lambda: answers_health(stack.url("ledger")), "the ledger")
        for pid in stack.nats_server_pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        assert stack.stop() is not None, f"up did not stop within 30 s\n{stack.log_tail()}"
    finally:
        stack.close()


def _stored_wishes(data_dir: Path) -> int:
    """Wishes posted so far, read from the live store file (WAL lets a reader in)."""
    path = data_dir / "tickets.sqlite"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            row = db.execute(
                "SELECT COUNT(*) FROM stored_events WHERE topic LIKE '%:Wish.Posted'"
            ).fetchone()
        except sqlite3.OperationalError:  # tables not created yet
            return 0
    return int(row[0])


def _demo_records(data_dir: Path) -> list[tuple[str, ...]]:
    """Every wish, ticket and dispute in a stopped stack's store, as its kind, community,
    title and the names of its events in order: everything but the random ids."""
    board = tickets_store(eventsourcing_env(StoreSettings(sqlite_path=data_dir / "tickets.sqlite")))
    histories: dict[UUID, list[object]] = defaultdict(list)
    try:
        for notification in board.recorder.select_notifications(1, 10**7):
            event = board.mapper.to_domain_event(notification)
            histories[event.originator_id].append(event)
    finally:
        board.close()
    records = []
    for history in histories.values():
        stamp = getattr(history[0], "stamp", None)
        if stamp is not None:  # wishes, tickets, disputes; not receipts or territory maps
            records.append(
                (stamp.place.community, str(getattr(history[0], "title", "")),
                 *(type(event).__qualname__ for event in history))
            )  # fmt: skip
    return sorted(records)


def test_a_demo_seeding_killed_midway_and_started_again_gives_the_district_of_one_clean_seeding(
    tmp_path: Path,
) -> None:
    clean, crashed = (
        UpProcess(tmp_path / "clean", demo=True),
        UpProcess(tmp_path / "crashed", demo=True),
    )
    total = COMMUNITIES * 5
    try:
        clean.start()
        clean.wait_until(clean.is_seeded, "the clean seeding", timeout=600)
        assert clean.stop() == 0, clean.log_tail()

        crashed.start()
        crashed.wait_until(lambda: _stored_wishes(crashed.data_dir) >= total // 3, "a third")
        crashed.kill()
        assert 0 < _stored_wishes(crashed.data_dir) < total
        assert not crashed.is_seeded()
        crashed.start()
        crashed.wait_until(crashed.is_seeded, "the second seeding", timeout=600)
        assert crashed.stop() == 0, crashed.log_tail()
    finally:
        clean.close()
        crashed.close()

    expected = _demo_records(clean.data_dir)
    assert sum(record[2] == "Wish.Posted" for record in expected) == total
    assert _demo_records(crashed.data_dir) == expected
