"""Fixtures with real parts: a nats-server from the wheel on a free port, real SQLite files,
and (for the `postgres` marker) the machine's PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypedDict

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.ledger.main import LedgerSettings
from services.ledger.main import create_app as create_ledger
from services.matching.main import create_app as create_matching
from services.runtime.bus import provision
from services.runtime.nats_auth import bus_as, hashed_authorization, stored_passwords
from services.runtime.nats_server import EmbeddedNats, free_port
from services.runtime.place import Clock, utc_now
from services.runtime.settings import BusSettings, StoreKind, StoreSettings
from services.tickets.main import TicketsSettings, tickets_store
from services.tickets.main import create_app as create_tickets
from services.tickets.store import TicketsStore
from shiliu.demo import district_plan
from tests.support.loopback import only_loopback
from tests.support.matching import STAFF as MATCHING_STAFF
from tests.support.matching import matching_settings
from tests.support.tokens import auth_settings, bearer
from tests.support.units import enrolling_test_units


class PgParams(TypedDict):
    host: str
    port: int
    dbname: str
    user: str


PG: PgParams = {"host": "127.0.0.1", "port": 5432, "dbname": "test", "user": "postgres"}


def in_ci() -> bool:
    """`CI=true` (as `.ci/run` sets it): a missing PostgreSQL or Chromium fails, not skips."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True, scope="session")
def _no_network_beyond_loopback() -> Iterator[None]:
    with only_loopback():
        yield


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats", port=free_port())
    server.start()
    asyncio.run(provision(BusSettings(url=server.url)))
    yield server
    server.stop()


@pytest.fixture
def bus(nats_server: EmbeddedNats) -> BusSettings:
    return BusSettings(url=nats_server.url)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Any]:
    """A secured bus as the embedded default runs it, plus an all-powerful admin that may
    delete messages and purge streams (`tests.ledger.faults.Bus`, which needs this module)."""
    from tests.ledger.faults import Bus

    bus = Bus(tmp_path)
    bus.server.start()
    try:
        asyncio.run(provision(bus.as_user("operator")))
        yield bus
    finally:
        bus.server.stop()


@dataclass(frozen=True)
class SecuredBus:
    """A nats-server that admits only the bus users; their passwords are under `data_dir`."""

    server: EmbeddedNats
    data_dir: Path
    passwords: dict[str, str]

    def as_user(self, user: str) -> BusSettings:
        return bus_as(user, BusSettings(url=self.server.url), self.passwords)


@pytest.fixture
def secured_bus(tmp_path: Path) -> Iterator[SecuredBus]:
    """As the embedded default runs it: every bus user with its permissions, provisioned."""
    data_dir = tmp_path / "data"
    passwords = stored_passwords(data_dir)
    server = EmbeddedNats(
        tmp_path / "secured-nats", port=free_port(), authorization=hashed_authorization(passwords)
    )
    server.start()
    try:
        secured = SecuredBus(server, data_dir, passwords)
        asyncio.run(provision(secured.as_user("operator")))
        yield secured
    finally:
        server.stop()


def _pg_available() -> bool:
    try:
        with psycopg.connect(**PG, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh schema in the `test` database, dropped afterwards."""
    if not _pg_available():
        if in_ci():
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (CI must provide it)")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pg_store(schema: str) -> StoreSettings:
    return StoreSettings(
        kind=StoreKind.POSTGRES, pg_host="127.0.0.1", pg_port=5432, pg_dbname="test",
        pg_user="postgres", pg_schema=schema,
    )  # fmt: skip


def master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def memory_store() -> StoreSettings:
    """The library's in-memory SQLite: a shared-cache database of its own name holding every
    table of a store (events, vault, views, outbox), gone when its last connection closes."""
    name = f"file:shiliu-{uuid.uuid4().hex}?mode=memory&cache=shared"
    return StoreSettings(sqlite_path=Path(name))


RELAYING = frozenset({"bus", "ledger", "nats_server"})
"""Fixtures with which the `tickets` fixture relays to a plain nats-server."""
LIVE = RELAYING | {"secured", "secured_bus"}
"""Fixtures that put a test on the bus: it is about delivery, so its stores are real files."""


@pytest.fixture(autouse=True)
def _units_enrolled(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tickets service a test opens in this process knows the test units (c01) as if
    the registry's events had reached it over the bus; a test marked `real_registry` gets
    them only from a real matching service."""
    if request.node.get_closest_marker("real_registry") is None:
        enrolling_test_units(monkeypatch)


@pytest.fixture
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, StoreSettings]:
    """In memory for a test of commands, queries and validation; SQLite files for one on the
    bus (delivery, durability) or parametrised with `sqlite`; PostgreSQL when parametrised
    with `postgres`."""
    kind = getattr(request, "param", "sqlite" if LIVE & set(request.fixturenames) else "memory")
    if kind == "postgres":
        schema = request.getfixturevalue("pg_schema")
        return {"tickets": pg_store(schema), "ledger": pg_store(schema + "_l")}
    if kind == "memory":
        return {"tickets": memory_store(), "ledger": memory_store()}
    # the SQLite files' folder exists; PostgreSQL schemas are made by whoever opens them
    return {
        "tickets": StoreSettings(sqlite_path=tmp_path / "tickets.sqlite"),
        "ledger": StoreSettings(sqlite_path=tmp_path / "ledger.sqlite"),
    }


@cache
def demo_territory() -> Path:
    """The demo district's territory (jinfeng: c01 in street s01 has grids g01…), one file."""
    path = Path(tempfile.mkdtemp(prefix="shiliu-territory-")) / "jinfeng.json"
    path.write_text(district_plan().model_dump_json(), encoding="utf-8")
    return path


def demo_store(env: dict[str, str], *, clock: Clock = utc_now) -> TicketsStore:
    """The tickets store knowing the demo district's territory, as the tickets service imports
    it at start: wishes are posted only where the territory has their place."""
    store = tickets_store(env, clock=clock)
    store.create_tables()
    store.atlas.import_plan(district_plan())
    return store


def tickets_settings(bus: BusSettings, store: StoreSettings, **extra: Any) -> TicketsSettings:
    extra.setdefault("territory_files", [demo_territory()])
    return TicketsSettings(
        store=store, bus=bus, master_key=master_key(), poll_seconds=0.05, auth=auth_settings(),
        **extra,
    )  # fmt: skip


class MovableClock:
    """The real time, moved on by what a test tells it (`app.state.clock` of `tickets`)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


OFFLINE_BUS = BusSettings(url="nats://127.0.0.1:1")
"""Where no nats-server listens: a service given it must never try to reach the bus."""


@pytest.fixture
def tickets(
    request: pytest.FixtureRequest, stores: dict[str, StoreSettings]
) -> Iterator[TestClient]:
    """The tickets service over HTTP on `stores`. It relays to a real nats-server (from real
    SQLite files) only when the test also uses the bus or the ledger; otherwise it runs in
    memory without a bus (the relay off), which is all a test of commands, queries and
    validation needs. Its clock (`app.state.clock`) is the real time unless a test moves it."""
    live = RELAYING & set(request.fixturenames)
    bus: BusSettings = request.getfixturevalue("bus") if live else OFFLINE_BUS
    clock = MovableClock()
    settings = tickets_settings(bus, stores["tickets"], relay_enabled=bool(live))
    app = create_tickets(settings, clock=clock)
    app.state.clock = clock
    with TestClient(app, headers=bearer("operator-1", "operator", scope={})) as client:
        yield client


@pytest.fixture
def matching() -> Iterator[TestClient]:
    """The matching service over HTTP, offline (no bus, no relay) in memory, with the demo
    district's territory; its default caller is community staff of c01."""
    settings = matching_settings(OFFLINE_BUS, memory_store(), relay_enabled=False)
    with TestClient(create_matching(settings), headers=MATCHING_STAFF) as client:
        yield client


@pytest.fixture
def ledger(bus: BusSettings, stores: dict[str, StoreSettings]) -> Iterator[TestClient]:
    settings = LedgerSettings(store=stores["ledger"], bus=bus, auth=auth_settings())
    with TestClient(
        create_ledger(settings), headers=bearer("auditor-1", "auditor", scope={})
    ) as client:
        yield client


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll until `check` returns a truthy value; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    assert value, f"condition not met within {timeout}s (last value: {value!r})"
    return value
