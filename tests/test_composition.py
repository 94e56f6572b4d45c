"""The services' composition roots: building one does no I/O; starting it does it all."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from fastapi.testclient import TestClient

from services.ledger.main import LedgerSettings
from services.ledger.main import create_app as create_ledger
from services.matching.main import create_app as create_matching
from services.runtime.settings import StoreSettings
from services.tickets.main import create_app as create_tickets
from tests.conftest import OFFLINE_BUS, pg_store, tickets_settings
from tests.support.matching import matching_settings
from tests.support.tokens import auth_settings, bearer

UNREACHABLE_POSTGRES = pg_store("never_made").model_copy(update={"pg_port": 1})


def _open_files() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_services_built_but_never_started_make_no_file_no_schema_no_thread_and_no_connection(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    files, threads = _open_files(), threading.active_count()

    for store in (StoreSettings(sqlite_path=data / "tickets.sqlite"), UNREACHABLE_POSTGRES):
        create_tickets(tickets_settings(OFFLINE_BUS, store))
        create_ledger(LedgerSettings(store=store, bus=OFFLINE_BUS))
        create_matching(matching_settings(OFFLINE_BUS, store))

    assert not data.exists()
    assert _open_files() == files
    assert threading.active_count() == threads


def test_a_started_service_makes_its_store_and_imports_its_territory_in_the_lifespan(
    tmp_path: Path,
) -> None:
    store = StoreSettings(sqlite_path=tmp_path / "data" / "tickets.sqlite")
    app = create_tickets(tickets_settings(OFFLINE_BUS, store, relay_enabled=False))
    assert not store.sqlite_path.exists()

    with TestClient(app, headers=bearer("operator-1", "operator", scope={})) as client:
        assert store.sqlite_path.exists()
        assert client.get("/territory/jinfeng/c01").status_code == 200

    ledger_store = StoreSettings(sqlite_path=tmp_path / "data" / "ledger.sqlite")
    settings = LedgerSettings(store=ledger_store, bus=OFFLINE_BUS, consume=False)
    ledger = create_ledger(settings.model_copy(update={"auth": auth_settings()}))
    with TestClient(ledger, headers=bearer("auditor-1", "auditor", scope={})) as client:
        assert client.get("/ops/parked").json() == []
