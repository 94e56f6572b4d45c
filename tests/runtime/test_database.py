"""The SQLite store commits durably: WAL with a full fsync on every commit."""

from __future__ import annotations

from pathlib import Path

from services.runtime.database import Database, open_datastore
from services.runtime.settings import StoreSettings


def test_the_sqlite_store_fsyncs_every_commit(tmp_path: Path) -> None:
    datastore = open_datastore(StoreSettings(sqlite_path=tmp_path / "s.sqlite"))
    try:
        with Database(datastore).transaction(commit=False) as tx:
            tx.execute("PRAGMA journal_mode")
            journal = tx.fetchone()
            tx.execute("PRAGMA synchronous")
            synchronous = tx.fetchone()
        assert journal is not None
        assert synchronous is not None
        assert str(journal[0]).lower() == "wal"  # type: ignore[index]
        assert synchronous[0] == 2  # type: ignore[index]  # FULL
    finally:
        datastore.close()
