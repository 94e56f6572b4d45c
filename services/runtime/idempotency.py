"""Idempotency receipts: the first outcome of a command sent with an `Idempotency-Key`.

A receipt is an aggregate saved in the same transaction as the command's events, so a
retried command either finds it and returns the first outcome, or conflicts and retries.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from eventsourcing.domain import Aggregate, event

from services.runtime.database import Database

_NAMESPACE = uuid5(NAMESPACE_URL, "https://shiliu.invalid/idempotency")


class IdempotencyKeyReusedError(Exception):
    """The key was used before for a different command or payload."""

    code = "request.idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request")
        self.key = key


def fingerprint(command: str, payload: dict[str, Any]) -> str:
    body = orjson.dumps({"command": command, "payload": payload}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


class Receipt(Aggregate):
    """What a keyed command answered the first time."""

    @staticmethod
    def create_id(scope: str, key: str, fingerprint: str, outcome: dict[str, Any]) -> UUID:
        return receipt_id(scope, key)

    @event("Issued")
    def __init__(self, scope: str, key: str, fingerprint: str, outcome: dict[str, Any]) -> None:
        self.scope = scope
        self.key = key
        self.fingerprint = fingerprint
        self.outcome = outcome


def receipt_id(scope: str, key: str) -> UUID:
    """Keys are scoped per actor, so two clients cannot collide on a key."""
    return uuid5(_NAMESPACE, f"{scope}\x00{key}")


def receipt_position(database: Database, table: str, receipt: UUID) -> int:
    """The notification id the receipt was recorded at, read back from the events `table`
    (the eventsourcing recorders number notifications by rowid in SQLite, by a column in
    PostgreSQL, and key SQLite's rows by the UUID's hex)."""
    key: UUID | str = receipt
    column = "notification_id"
    if not database.is_postgres:
        column, key = "rowid", receipt.hex
    with database.transaction(commit=False) as tx:
        tx.execute(
            f"SELECT {column} AS n FROM {{t:{table}}} "
            "WHERE originator_id = ? AND originator_version = 1",
            (key,),
        )
        row = tx.fetchone()
    if row is None:
        msg = f"receipt {receipt} has no stored event"
        raise LookupError(msg)
    return int(row["n"])
