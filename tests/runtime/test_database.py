"""The SQLite stores commit durably: WAL with a full fsync on every commit, on every connection
the services open, whatever SQLite's build default is."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.sqlite import SQLiteDatastore

from services.ledger.main import Ledger, LedgerSettings
from services.runtime.database import Database, open_datastore
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import Tickets
from tests.conftest import tickets_settings

FULL = 2


def _pragmas(datastore: SQLiteDatastore) -> set[tuple[str, int]]:
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
        connection = connect(*args, **kwargs)
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
    tickets = Tickets(tickets_settings(BusSettings(), StoreSettings(sqlite_path=tmp_path / "t.db")))
    ledger = Ledger(LedgerSettings(store=StoreSettings(sqlite_path=tmp_path / "l.db")))
    try:
        assert _pragmas(tickets.database.datastore) == {("wal", FULL)}
        assert _pragmas(ledger.datastore) == {("wal", FULL)}
    finally:
        ledger.close()
        tickets.database.datastore.close()
