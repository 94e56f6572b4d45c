"""The stores commit durably: WAL with a full fsync on every commit, on every connection the
services open, whatever SQLite's build default is; our own writes commit in the same
transaction as the events they go with; and services starting at once on one fresh
PostgreSQL schema all start."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from services.ledger.main import Ledger, LedgerSettings
from services.runtime.database import (
    ALONG,
    EVENT_RECORDERS,
    Along,
    Cursor,
    Database,
    create_table,
    eventsourcing_env,
    open_datastore,
    prepare_store,
)
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import Tickets, open_tickets_store, tickets_store
from tests.conftest import pg_store, tickets_settings

FULL = 2


def _pragmas(datastore: SQLiteDatastore | PostgresDatastore) -> set[tuple[str, int]]:
    """journal_mode and synchronous as seen by the pool's writer and reader connections."""
    seen = set()
    for commit in (True, False):
        with Database(datastore).transaction(commit=commit) as tx:
            tx.execute("PRAGMA journal_mode")
            journal = tx.fetchone()
            tx.execute("PRAGMA synchronous")
            synchronous = tx.fetchone()
        assert journal is not None
        assert synchronous is not None
        seen.add((str(journal[0]).lower(), int(synchronous[0])))  # type: ignore[index]
    return seen


@pytest.fixture
def build_default_normal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand in for an SQLite built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 (NORMAL), which
    fsyncs only at checkpoints: a power cut can lose acknowledged commits."""
    connect = sqlite3.connect

    def connect_normal(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection: sqlite3.Connection = connect(*args, **kwargs)
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect_normal)


def test_the_sqlite_store_fsyncs_every_commit(tmp_path: Path) -> None:
    datastore = open_datastore(StoreSettings(sqlite_path=tmp_path / "s.sqlite"))
    try:
        assert _pragmas(datastore) == {("wal", FULL)}
    finally:
        datastore.close()


@pytest.mark.usefixtures("build_default_normal")
def test_the_services_store_connections_run_wal_with_synchronous_full_whatever_the_build_default(
    tmp_path: Path,
) -> None:
    settings = tickets_settings(BusSettings(), StoreSettings(sqlite_path=tmp_path / "t.db"))
    tickets = Tickets(settings).open()
    ledger = Ledger(LedgerSettings(store=StoreSettings(sqlite_path=tmp_path / "l.db"))).open()
    try:
        assert _pragmas(tickets.database.datastore) == {("wal", FULL)}
        assert _pragmas(ledger.datastore) == {("wal", FULL)}
    finally:
        ledger.close()
        tickets.database.datastore.close()


class _Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Rewritten")
    def rewrite(self, text: str) -> None:
        self.text = text


def _noted(text: str) -> Along:
    def write(tx: Cursor) -> None:
        tx.execute("INSERT INTO {t:along_notes} (text) VALUES (?)", (text,))

    return write


def _notes(database: Database) -> list[str]:
    with database.transaction(commit=False) as tx:
        tx.execute("SELECT text FROM {t:along_notes} ORDER BY text")
        return [str(row["text"]) for row in tx.fetchall()]


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_the_event_recorder_commits_writes_along_with_the_events_or_rolls_both_back(
    stores: dict[str, StoreSettings],
) -> None:
    prepare_store(stores["tickets"])
    app: Application[UUID] = Application(eventsourcing_env(stores["tickets"]))
    assert isinstance(app.recorder, EVENT_RECORDERS)
    create_table(app.recorder)
    database = Database(app.recorder.datastore)
    database.execute_script(["CREATE TABLE IF NOT EXISTS {t:along_notes} (text TEXT NOT NULL)"])
    note = _Note("first")
    app.save(note, **{ALONG: [_noted("saved")]})
    first: _Note = app.repository.get(note.id)
    second: _Note = app.repository.get(note.id)
    first.rewrite("ahead")
    app.save(first)

    second.rewrite("stale")  # the same version as `first`'s: the save conflicts
    with pytest.raises(IntegrityError):
        app.save(second, **{ALONG: [_noted("lost")]})

    assert _notes(database) == ["saved"]
    app.close()


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_ledger_store_made_before_event_digests_gains_the_column_and_keeps_its_rows(
    stores: dict[str, StoreSettings],
) -> None:
    prepare_store(stores["ledger"])
    database = Database(open_datastore(stores["ledger"]))
    with database.transaction() as tx:
        tx.execute(
            "CREATE TABLE {t:feed_events} (consumer TEXT NOT NULL, feed TEXT NOT NULL, "
            "sequence BIGINT NOT NULL, event_id TEXT NOT NULL, "
            "PRIMARY KEY (consumer, feed, sequence))"
        )
        tx.execute("INSERT INTO {t:feed_events} VALUES ('ledger-wishes', 'tickets.wish', 1, 'e-1')")
    for _ in range(2):  # opened again and again: the column is added once
        Ledger(LedgerSettings(store=stores["ledger"], bus=BusSettings(), consume=False)).open()
    with database.transaction(commit=False) as tx:
        tx.execute("SELECT event_id, digest FROM {t:feed_events}")
        assert [dict(row) for row in tx.fetchall()] == [{"event_id": "e-1", "digest": None}]


def _start_services(store: StoreSettings, ready: Any, results: Any) -> None:
    """One freshly started process: the tickets service and the ledger on one store."""
    bus = BusSettings(url="nats://127.0.0.1:1")  # constructing them opens no connection
    try:
        ready.wait()
        Tickets(tickets_settings(bus, store)).open()
        Ledger(LedgerSettings(store=store, bus=bus, consume=False)).open()
        results.put("started")
    except Exception as error:  # reported to the test, which names it
        results.put(f"{type(error).__name__}: {error}")


@pytest.mark.postgres
def test_four_processes_starting_on_one_fresh_postgres_schema_at_once_all_start(
    pg_schema: str,
) -> None:
    store = pg_store(pg_schema)
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Barrier(4), spawn.Queue()
    processes = [spawn.Process(target=_start_services, args=(store, ready, results))
                 for _ in range(4)]  # fmt: skip
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert sorted(results.get(timeout=5) for _ in processes) == ["started"] * 4


@pytest.mark.postgres
def test_a_postgres_store_used_before_its_twin_made_the_tables_saves_once_they_exist(
    pg_schema: str,
) -> None:
    store = pg_store(pg_schema)
    prepare_store(store)
    early = tickets_store(eventsourcing_env(store))  # built, tables not made: its twin will
    assert isinstance(early.recorder, EVENT_RECORDERS)
    with Database(early.recorder.datastore).transaction(commit=False) as tx:
        tx.execute("SELECT 1")  # its first connection, before any composite type exists
    twin = open_tickets_store(store)
    note = _Note("saved by the store that connected first")
    early.save(note)
    assert twin.repository.get(note.id).text == note.text
    early.close()
    twin.close()
