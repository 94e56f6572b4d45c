"""Twin relays (two tickets instances on one store) confirming publishes at once: the published
position only moves forward and neither twin's pass fails. It used to be read, then written,
so on SQLite a twin's commit in between failed the pass with "database is locked" (the relay
not ready) and on PostgreSQL the later writer could set the position back."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from services.runtime.database import Database, open_datastore, prepare_store
from services.runtime.outbox import Outbox
from services.runtime.settings import StoreSettings

ROUNDS = 300


@pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_twin_relays_confirming_publishes_at_once_never_fail_nor_set_the_position_back(
    stores: dict[str, StoreSettings], tmp_path: Path
) -> None:
    store = stores["tickets"]
    prepare_store(store)
    twins = [Outbox(Database(open_datastore(store)), lambda _: None) for _ in range(2)]
    for twin in twins:
        twin.create_tables()
    errors: list[Exception] = []
    start = threading.Barrier(2)

    def confirm(twin: int) -> None:
        start.wait()
        for i in range(ROUNDS):
            try:
                twins[twin].mark_published(2 * i + twin + 1)
            except Exception as error:  # a failed pass: the relay is not ready
                errors.append(error)

    threads = [threading.Thread(target=confirm, args=(twin,)) for twin in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert twins[0].published() == 2 * ROUNDS
    for twin in twins:
        twin.database.datastore.close()
