"""The stores commit durably (WAL with a full fsync on every commit), and our own writes
commit in the same transaction as the events they go with."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from services.runtime.database import (
    ALONG,
    EVENT_RECORDERS,
    Along,
    Cursor,
    Database,
    eventsourcing_env,
    open_datastore,
)
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
    app: Application[UUID] = Application(eventsourcing_env(stores["tickets"]))
    assert isinstance(app.recorder, EVENT_RECORDERS)
    database = Database(app.recorder.datastore)
    database.execute_script(["CREATE TABLE IF NOT EXISTS {t:along_notes} (text TEXT NOT NULL)"])
    note = _Note("first")
    app.save(note, **{ALONG: [_noted("saved")]})
    first, second = app.repository.get(note.id), app.repository.get(note.id)
    first.rewrite("ahead")
    app.save(first)

    second.rewrite("stale")  # the same version as `first`'s: the save conflicts
    with pytest.raises(IntegrityError):
        app.save(second, **{ALONG: [_noted("lost")]})

    assert _notes(database) == ["saved"]
    app.close()
