"""The eventsourcing library's datastores as Shiliu runs them: SQLite connections that fsync
every commit, and PostgreSQL that connects on first use only (building touches nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType


class DurableSQLitePool(SQLiteConnectionPool):
    """Every connection commits with a full fsync (`synchronous=FULL`), whatever SQLite's
    build default is; the library sets WAL mode but leaves `synchronous` to the build."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection.cursor().execute("PRAGMA synchronous=FULL")
        return connection


def durable(datastore: SQLiteDatastore) -> SQLiteDatastore:
    """`datastore` with its (still unused) pool swapped for a `DurableSQLitePool`."""
    pool = datastore.pool
    datastore.pool = DurableSQLitePool(
        db_name=pool.db_name, lock_timeout=pool.lock_timeout, pool_size=pool.pool_size,
        max_overflow=pool.max_overflow, pool_timeout=pool.pool_timeout, max_age=pool.max_age,
        pre_ping=pool.pre_ping,
    )  # fmt: skip
    pool.close()
    return datastore


class DurableSQLiteFactory(SQLiteFactory):
    """The library's SQLite persistence, on connections made by `DurableSQLitePool`."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.datastore = durable(self.datastore)


class LaterPostgresDatastore(PostgresDatastore):
    """The library's PostgreSQL datastore, connecting on first use only: the library's
    recorders look up their composite types as they are built, which connects; here the
    lookup waits for the first connection, and is tried again on every connection while a
    type is still missing (PostgreSQL not up yet, or a twin still making the tables)."""

    _in_use = False
    _looking_up = False

    def register_type_adapters(self) -> None:
        if self._in_use and not self._looking_up:
            self._looking_up = True  # the lookup's own connection must not look up again
            try:
                super().register_type_adapters()
            finally:
                self._looking_up = False

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        self._in_use = True
        if self.db_type_names.difference(self.psycopg_type_adapters):
            self.register_type_adapters()
        with super().get_connection() as conn:
            yield conn


class LaterPostgresFactory(PostgresFactory):
    """The library's PostgreSQL persistence on a `LaterPostgresDatastore`."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # The library builds its datastore by name inside its own __init__; the subclass adds
        # behaviour only, no state, so the built one changes class in place.
        self.datastore.__class__ = LaterPostgresDatastore
