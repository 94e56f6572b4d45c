"""One small SQL seam over the eventsourcing datastores, so our own tables share them.

Statements are written once with `?` placeholders and `{t:name}` table references; the
PostgreSQL side turns them into `%s` and `schema.name`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresRecorder,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteRecorder,
)

from services.runtime.datastores import DurableSQLiteFactory, LaterPostgresFactory, durable
from services.runtime.settings import StoreKind, StoreSettings

Row = Mapping[str, Any]
_TABLE = re.compile(r"\{t:([a-z_][a-z0-9_]*)\}")
_PG_TYPES = {"{blob}": "BYTEA", "{serial}": "BIGSERIAL PRIMARY KEY", "{real}": "DOUBLE PRECISION"}
_SQLITE_TYPES = {
    "{blob}": "BLOB",
    "{serial}": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "{real}": "REAL",
}


class Cursor(Protocol):
    def execute(self, statement: str, params: Sequence[Any] = ()) -> None: ...
    def fetchone(self) -> Row | None: ...
    def fetchall(self) -> list[Row]: ...


class _Tx:
    def __init__(self, cursor: Any, database: Database) -> None:
        self._cursor = cursor
        self._database = database

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(self._database.sql(statement), tuple(params))

    def fetchone(self) -> Row | None:
        row: Row | None = self._cursor.fetchone()
        return row

    def fetchall(self) -> list[Row]:
        return list(self._cursor.fetchall())


class Database:
    """A service's store, as plain SQL, sharing the event store's connection pool."""

    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore) -> None:
        self.datastore = datastore
        self.is_postgres = isinstance(datastore, PostgresDatastore)
        self.schema = datastore.schema if isinstance(datastore, PostgresDatastore) else ""

    def sql(self, statement: str) -> str:
        types = _PG_TYPES if self.is_postgres else _SQLITE_TYPES
        for token, name in types.items():
            statement = statement.replace(token, name)
        if self.is_postgres:
            statement = _TABLE.sub(lambda m: f"{self.schema}.{m.group(1)}", statement)
            return statement.replace("?", "%s")
        return _TABLE.sub(lambda m: m.group(1), statement)

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield self.cursor(cursor)

    def cursor(self, raw: Any) -> Cursor:
        """Our SQL on a cursor of the datastore's, inside whatever transaction it is in."""
        return _Tx(raw, self)

    @contextmanager
    def snapshot(self) -> Iterator[Cursor]:
        """A read-only transaction whose every query sees the same committed state (SQLite's
        WAL readers do; PostgreSQL needs REPEATABLE READ for that)."""
        with self.transaction(commit=False) as tx:
            if self.is_postgres:
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield tx

    def execute_script(self, statements: Sequence[str]) -> None:
        """Run DDL in one transaction, one creator of this schema at a time."""
        with self.ddl_transaction() as tx:
            for statement in statements:
                tx.execute(statement)

    @contextmanager
    def ddl_transaction(self) -> Iterator[Cursor]:
        """A transaction for DDL (and what decides it), one creator of this schema at a time."""
        with self.transaction() as tx:
            self._ddl_turn(tx)
            yield tx

    def add_column(self, table: str, column: str, definition: str) -> None:
        """Add a column to a table made before it existed (stores outlive releases)."""
        with self.ddl_transaction() as tx:
            if self.is_postgres:
                tx.execute(f"ALTER TABLE {{t:{table}}} ADD COLUMN IF NOT EXISTS {column} "
                           f"{definition}")  # fmt: skip
                return
            tx.execute(f"SELECT name FROM pragma_table_info('{table}')")
            if column not in {row["name"] for row in tx.fetchall()}:
                tx.execute(f"ALTER TABLE {{t:{table}}} ADD COLUMN {column} {definition}")

    def _ddl_turn(self, tx: Cursor) -> None:
        """Wait for any other creator of this schema's tables to commit (PostgreSQL's
        `IF NOT EXISTS` is not safe against a concurrent creator: two services starting at
        once collide on `pg_type`). SQLite's write lock already serialises DDL."""
        if self.is_postgres:
            tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (ddl_lock_name(self.schema),))


ALONG = "along"
"""The keyword of `Application.save` naming writes of our own tables (`Along`) that commit or
roll back with the saved events, in the recorder's transaction."""

Along = Callable[[Cursor], None]


def _write_along(database: Database, raw: Any, saved: Mapping[str, Any]) -> None:
    writes: Sequence[Along] = saved.get(ALONG, ())
    for write in writes:
        write(database.cursor(raw))


class SQLiteEventRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, also running the `along` writes in its transaction."""

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        _write_along(Database(self.datastore), c, kwargs)
        return notification_ids


def ddl_lock_name(schema: str) -> str:
    """The advisory lock every creator of `schema`'s tables and of the schema itself takes."""
    return f"shiliu-ddl:{schema}"


class PostgresEventRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, also running the `along` writes in its transaction
    (the library calls `_insert_events` inside it, before the events themselves), and
    (its tables are made by `create_table`, one process at a time)."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if kwargs.get(ALONG) and self.datastore.enable_db_functions:
            msg = "writes along with events need POSTGRES_ENABLE_DB_FUNCTIONS off"
            raise NotImplementedError(msg)
        notification_ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
        return notification_ids

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        _write_along(Database(self.datastore), curs, kwargs)


def create_table(recorder: object) -> None:
    """A recorder's tables, when they are missing; the in-memory recorders have none.

    On PostgreSQL one creator of the schema's tables at a time: the library makes types and
    tables in several transactions, so a session lock on a connection of its own spans them
    all (every recorder of the store: events, snapshots).
    """
    if isinstance(recorder, SQLiteRecorder):
        recorder.create_table()
    elif isinstance(recorder, PostgresRecorder):
        lock = ddl_lock_name(recorder.datastore.schema)
        with recorder.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock,))
            try:
                recorder.create_table()
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock,))


EVENT_RECORDERS = (SQLiteEventRecorder, PostgresEventRecorder)


def class_topic(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


AES_CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"
"""The library's AES-GCM cipher built on the `cryptography` package."""


def eventsourcing_env(store: StoreSettings, *, cipher_key: str = "") -> dict[str, str]:
    """The eventsourcing library's environment for one application on this store.

    With a `cipher_key` (base64 of an AES key) stored events and snapshots are encrypted.
    """
    cipher = {"CIPHER_TOPIC": AES_CIPHER_TOPIC, "CIPHER_KEY": cipher_key} if cipher_key else {}
    # Nothing is created while the application is built: its owner's `create_tables()` makes
    # the tables once it starts.
    common = {"CREATE_TABLE": "n", **cipher}
    if store.kind is StoreKind.SQLITE:
        return {
            "PERSISTENCE_MODULE": class_topic(DurableSQLiteFactory),
            "SQLITE_DBNAME": str(store.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": class_topic(SQLiteEventRecorder),
            **common,
        }
    return {
        **common,
        "PERSISTENCE_MODULE": class_topic(LaterPostgresFactory),
        "APPLICATION_RECORDER_TOPIC": class_topic(PostgresEventRecorder),
        "POSTGRES_DBNAME": store.pg_dbname,
        "POSTGRES_HOST": store.pg_host,
        "POSTGRES_PORT": str(store.pg_port),
        "POSTGRES_USER": store.pg_user,
        "POSTGRES_PASSWORD": store.pg_password,
        "POSTGRES_SCHEMA": store.pg_schema,
        "POSTGRES_POOL_SIZE": str(store.pg_pool_size),
        "POSTGRES_MAX_OVERFLOW": "4",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_CONN_MAX_AGE": "3600",
        "POSTGRES_PRE_PING": "y",
    }


def _pg_connect(store: StoreSettings) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection of its own to the store's database, outside any pool (schema changes)."""
    return psycopg.connect(
        host=store.pg_host, port=store.pg_port, dbname=store.pg_dbname, user=store.pg_user,
        password=store.pg_password, autocommit=True, connect_timeout=5,
    )  # fmt: skip


def ensure_pg_schema(store: StoreSettings) -> None:
    with _pg_connect(store) as conn, conn.transaction():
        lock = ddl_lock_name(store.pg_schema)
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{store.pg_schema}"')


def drop_pg_schema(store: StoreSettings) -> None:
    """Remove a schema and everything in it (a rebuild's target, before it starts afresh)."""
    with _pg_connect(store) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{store.pg_schema}" CASCADE')


def prepare_store(store: StoreSettings) -> None:
    """Where the store's tables will go: the SQLite file's folder, or the PostgreSQL schema.
    Owners call it when they start; building a datastore or an environment touches nothing."""
    if store.kind is StoreKind.SQLITE:
        store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    else:
        ensure_pg_schema(store)


def open_datastore(store: StoreSettings) -> SQLiteDatastore | PostgresDatastore:
    """A datastore of our own, for a service with no event-sourced application (ledger);
    it connects on first use (see `prepare_store`)."""
    if store.kind is StoreKind.SQLITE:
        return durable(SQLiteDatastore(str(store.sqlite_path), lock_timeout=30))
    return PostgresDatastore(
        dbname=store.pg_dbname,
        host=store.pg_host,
        port=store.pg_port,
        user=store.pg_user,
        password=store.pg_password,
        schema=store.pg_schema,
        pool_size=store.pg_pool_size,
        max_overflow=4,
        lock_timeout=10,
    )
