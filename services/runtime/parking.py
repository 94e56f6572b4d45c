"""Parked messages: bus messages a consumer could not apply, kept where an operator sees them.

A malformed or unknown message is parked at once and acknowledged, so it neither blocks the
consumer nor vanishes; a message that keeps failing is parked when it reaches max_deliver.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel

from services.runtime.database import Cursor, Database, Row

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:parked_messages} ("
    "id {serial}, consumer TEXT NOT NULL, subject TEXT NOT NULL, stream_sequence BIGINT, "
    "headers TEXT NOT NULL, payload {blob} NOT NULL, error TEXT NOT NULL, "
    "deliveries INTEGER NOT NULL, parked_at TEXT NOT NULL)",
)


_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def storable(text: str) -> str:
    """`text` with each control character but tab and line breaks written as its escape
    (`\\x00`): a validation error may quote a message's NUL back, which PostgreSQL text cannot
    hold (parking would fail, and the consumer with it, again and again), and a terminal
    listing the lot should not obey a message's control characters."""
    return _UNPRINTABLE.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


class ParkedMessage(BaseModel):
    id: int
    consumer: str
    subject: str
    stream_sequence: int | None
    headers: dict[str, str]
    payload: str
    """The payload as UTF-8 text, with undecodable bytes replaced; in a list, only its first
    `PREVIEW_BYTES` (a list of a thousand 1 MB messages would be a gigabyte)."""
    payload_bytes: int
    payload_truncated: bool = False
    error: str
    deliveries: int
    parked_at: datetime


PREVIEW_BYTES = 4096


class ParkingLot:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_tables(self) -> None:
        """Its tables, when they are missing (at the owner's start, never at construction)."""
        self.database.execute_script(_DDL)

    def park_in(
        self,
        tx: Cursor,
        *,
        consumer: str,
        subject: str,
        stream_sequence: int | None,
        headers: Mapping[str, str],
        payload: bytes,
        error: str,
        deliveries: int,
    ) -> int:
        """Park one message; return its id in the lot."""
        tx.execute(
            "INSERT INTO {t:parked_messages} (consumer, subject, stream_sequence, headers, "
            "payload, error, deliveries, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (consumer, storable(subject), stream_sequence, orjson.dumps(dict(headers)).decode(),
             payload, storable(error)[:2000], deliveries, datetime.now(UTC).isoformat()),
        )  # fmt: skip
        row = tx.fetchone()
        return int(row["id"]) if row else 0

    @staticmethod
    def find_in(tx: Cursor, parked_id: int) -> tuple[str, bytes, dict[str, str]] | None:
        """The consumer, payload and headers of a parked message, or None."""
        tx.execute(
            "SELECT consumer, payload, headers FROM {t:parked_messages} WHERE id = ?",
            (parked_id,),
        )
        row = tx.fetchone()
        if row is None:
            return None
        return str(row["consumer"]), bytes(row["payload"]), orjson.loads(row["headers"])

    @staticmethod
    def release_in(tx: Cursor, parked_id: int) -> None:
        tx.execute("DELETE FROM {t:parked_messages} WHERE id = ?", (parked_id,))

    @staticmethod
    def note_in(tx: Cursor, parked_id: int, error: str) -> None:
        """Record why a retry failed too; the message stays parked."""
        tx.execute(
            "UPDATE {t:parked_messages} SET error = ?, deliveries = deliveries + 1 WHERE id = ?",
            (storable(error)[:2000], parked_id),
        )

    def list(self, *, consumer: str | None = None, limit: int = 100) -> list[ParkedMessage]:
        """The newest parked messages, each payload cut to its first `PREVIEW_BYTES`."""
        statement = (
            "SELECT id, consumer, subject, stream_sequence, headers, error, deliveries, "
            "parked_at, substr(payload, 1, ?) AS payload, length(payload) AS payload_bytes "
            "FROM {t:parked_messages}"
        )
        params: list[object] = [PREVIEW_BYTES]
        if consumer:
            statement += " WHERE consumer = ?"
            params.append(consumer)
        statement += " ORDER BY id DESC LIMIT ?"
        with self.database.transaction(commit=False) as tx:
            tx.execute(statement, [*params, limit])
            return [_parked(row) for row in tx.fetchall()]

    def one(self, parked_id: int) -> ParkedMessage | None:
        """One parked message with its whole payload."""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT *, length(payload) AS payload_bytes FROM {t:parked_messages} WHERE id = ?",
                (parked_id,),
            )
            row = tx.fetchone()
        return _parked(row) if row is not None else None

    def count(self) -> int:
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT COUNT(*) AS n FROM {t:parked_messages}")
            row = tx.fetchone()
        return int(row["n"]) if row else 0


def _parked(row: Row) -> ParkedMessage:
    payload = bytes(row["payload"])
    size = int(row["payload_bytes"])
    return ParkedMessage(
        id=row["id"], consumer=row["consumer"], subject=row["subject"],
        stream_sequence=row["stream_sequence"], headers=orjson.loads(row["headers"]),
        payload=payload.decode("utf-8", errors="replace"), payload_bytes=size,
        payload_truncated=len(payload) < size, error=row["error"],
        deliveries=row["deliveries"], parked_at=datetime.fromisoformat(row["parked_at"]),
    )  # fmt: skip
