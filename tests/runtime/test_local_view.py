"""A local view's tables made at start while a twin on the same store is already applying its
first batch, on a real SQLite file and on PostgreSQL: the late starter must not drop rows the
first applied (it used to read position 0, then drop the tables once the batch committed)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from eventsourcing.persistence import Notification

from events.envelope import IntegrationEvent
from services.runtime.database import Cursor, Database, open_datastore, prepare_store
from services.runtime.follower import LocalView
from services.runtime.settings import StoreSettings
from tests.conftest import pg_store


class RowsView(LocalView):
    """One row per notification; `apply` may be held mid-batch, its transaction open."""

    tables = ("view_rows",)
    ddl = ("CREATE TABLE IF NOT EXISTS {t:view_rows} (id BIGINT PRIMARY KEY)",)

    def __init__(self, database: Database, hold: Callable[[], None] = lambda: None) -> None:
        super().__init__(
            name="rows-v1",
            database=database,
            recorder=_NoRecorder(),  # type: ignore[arg-type]
            translate=lambda n: IntegrationEvent.model_construct(position=n.id),  # type: ignore[call-arg]
        )
        self.hold = hold

    def apply(self, tx: Cursor, event: IntegrationEvent) -> bool:
        tx.execute("INSERT INTO {t:view_rows} (id) VALUES (?)", (event.position,))
        self.hold()
        return True

    def rows(self) -> int:
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT COUNT(*) AS n FROM {t:view_rows}")
            row = tx.fetchone()
            assert row is not None
            return int(row["n"])


class _NoRecorder:
    """The view reads no log here: batches are handed to it."""


def _notification(position: int) -> Notification:
    return Notification(
        id=position, originator_id=uuid.uuid4(), originator_version=1, topic="t", state=b"{}"
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSettings:
    if request.param == "postgres":
        return pg_store(request.getfixturevalue("pg_schema"))
    return StoreSettings(sqlite_path=tmp_path / "view.sqlite")


def test_a_twin_starting_while_the_first_applies_its_first_batch_keeps_the_applied_rows(
    store: StoreSettings,
) -> None:
    prepare_store(store)
    applying, release = threading.Event(), threading.Event()

    def hold() -> None:
        applying.set()
        assert release.wait(30)

    first = RowsView(Database(open_datastore(store)), hold)
    first.create_tables()
    batch = threading.Thread(target=first._apply_batch, args=([_notification(1)],))
    batch.start()
    assert applying.wait(30)
    late = RowsView(Database(open_datastore(store)))
    starting = threading.Thread(target=late.create_tables)
    starting.start()
    time.sleep(0.5)  # the late twin reaches its decision while the batch is still open
    release.set()
    batch.join(30)
    starting.join(30)
    assert not starting.is_alive()
    assert not batch.is_alive()
    assert late.positions.load("rows-v1") == 1
    assert late.rows() == 1 == first.rows()


def test_a_view_under_a_new_name_starts_afresh_and_one_under_its_name_keeps_its_rows(
    store: StoreSettings,
) -> None:
    prepare_store(store)
    view = RowsView(Database(open_datastore(store)))
    view.create_tables()
    view._apply_batch([_notification(1), _notification(2)])
    RowsView(Database(open_datastore(store))).create_tables()
    assert view.rows() == 2
    view.positions.save("rows-v1", 0)  # as a view renamed for a new schema finds it
    RowsView(Database(open_datastore(store))).create_tables()
    assert view.rows() == 0
