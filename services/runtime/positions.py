"""Named positions in a service's own store: how far a relay or a local view has come."""

from __future__ import annotations

from services.runtime.database import Cursor, Database

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:log_positions} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
)
_UPSERT = (
    "INSERT INTO {t:log_positions} (name, position) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position"
)


class PositionStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_tables(self) -> None:
        """Its tables, when they are missing (at the owner's start, never at construction)."""
        self.database.execute_script([_DDL])

    def load(self, name: str) -> int:
        with self.database.transaction(commit=False) as tx:
            return self.load_in(tx, name)

    def save(self, name: str, position: int) -> None:
        with self.database.transaction() as tx:
            self.save_in(tx, name, position)

    @staticmethod
    def load_in(tx: Cursor, name: str) -> int:
        tx.execute("SELECT position FROM {t:log_positions} WHERE name = ?", (name,))
        row = tx.fetchone()
        return int(row["position"]) if row else 0

    @staticmethod
    def save_in(tx: Cursor, name: str, position: int) -> None:
        tx.execute(_UPSERT, (name, position))

    @staticmethod
    def claim_in(tx: Cursor, name: str) -> int:
        """Read a position with its row locked until the transaction ends, so twins (several
        instances on one store) take turns: written first, so SQLite takes its write lock
        before reading (a transaction that reads first cannot wait for it: "database is
        locked") and PostgreSQL locks the row."""
        tx.execute(
            "INSERT INTO {t:log_positions} (name, position) VALUES (?, 0) "
            "ON CONFLICT (name) DO NOTHING",
            (name,),
        )
        tx.execute("UPDATE {t:log_positions} SET position = position WHERE name = ?", (name,))
        return PositionStore.load_in(tx, name)
