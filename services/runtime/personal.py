"""Personal data kept out of events: encrypted per person, erased by destroying the key.

Envelope encryption: every person has a random data key, stored wrapped by the service's
master key; records are sealed with AES-GCM under the person's key. Erasure deletes the
wrapped key and the ciphertexts, so history (which only names the person's id) stays intact.
Every unmasked read is logged in the transaction that reads it; an erasure leaves an audit row.
Longer than 300 lines: keys, seals, reads, the access log and erasure share one set of tables
and one lock order (the key row), so they stay in one module.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.sqlite import SQLiteDatastore
from pydantic import BaseModel

from services.runtime.database import Along, Cursor, Database
from services.runtime.settings import MASTER_KEY_BYTES

log = logging.getLogger(__name__)

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:person_keys} "
    "(person_id TEXT PRIMARY KEY, wrapped_key {blob} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t:personal_records} "
    "(person_id TEXT NOT NULL, record_id TEXT NOT NULL, kind TEXT NOT NULL, "
    "sealed {blob} NOT NULL, PRIMARY KEY (person_id, record_id))",
    "CREATE TABLE IF NOT EXISTS {t:personal_access_log} (id {serial}, accessed_at TEXT NOT NULL, "
    "actor_id TEXT NOT NULL, role TEXT NOT NULL, person_id TEXT NOT NULL, "
    "record_id TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, "
    "district TEXT NOT NULL, street TEXT NOT NULL, community TEXT NOT NULL, grid TEXT)",
    "CREATE INDEX IF NOT EXISTS personal_access_log_by_person "
    "ON {t:personal_access_log} (person_id)",
    "CREATE TABLE IF NOT EXISTS {t:person_erasures} (id {serial}, person_id TEXT NOT NULL, "
    "erased_at TEXT NOT NULL, actor_id TEXT NOT NULL, role TEXT NOT NULL, "
    "reason TEXT NOT NULL, records INTEGER NOT NULL)",
)
_NONCE = 12
_TERRITORY = ("district", "street", "community", "grid")


class PersonalDataError(Exception):
    code = "person.error"


class PersonNotFoundError(PersonalDataError):
    code = "person.not_found"

    def __init__(self, person_id: str) -> None:
        super().__init__(f"no personal data is kept about {person_id}")
        self.person_id = person_id


class PersonErasedError(PersonalDataError):
    """The person's data was erased: it is gone, not merely hidden."""

    code = "person.erased"

    def __init__(self, person_id: str, erased_at: datetime) -> None:
        super().__init__(f"the personal data of {person_id} was erased at {erased_at}")
        self.person_id = person_id
        self.erased_at = erased_at


class PersonRecordsChangedError(PersonalDataError):
    """Records of the person were sealed while their erasure was being checked: the check no
    longer covers everything the erasure would destroy."""

    code = "person.records_changed"

    def __init__(self, person_id: str) -> None:
        super().__init__(f"records of {person_id} changed while their erasure was checked")
        self.person_id = person_id


class Disclosure(BaseModel):
    """One access to unmasked personal data: who, in which role, which record, when and why."""

    accessed_at: datetime
    actor_id: str
    role: str
    person_id: str
    record_id: str
    kind: str
    reason: str
    district: str
    street: str
    community: str
    grid: str | None = None


class Erasure(BaseModel):
    """A person's key destroyed: by whom, in which role, when, why, and how many records."""

    person_id: str
    erased_at: datetime
    actor_id: str
    role: str
    reason: str
    records: int


@dataclass(frozen=True)
class Sealed:
    """One record to seal under a person's key."""

    person_id: str
    record_id: str
    kind: str
    data: dict[str, Any]


def _insert(table: str, model: BaseModel, **extra: Any) -> tuple[str, list[Any]]:
    row = {**model.model_dump(mode="json"), **extra}
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return f"INSERT INTO {{t:{table}}} ({columns}) VALUES ({marks})", list(row.values())


def _columns(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields)


class PersonalDataVault:
    def __init__(self, database: Database, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            msg = f"the master key must be {MASTER_KEY_BYTES} bytes"
            raise ValueError(msg)
        self.database = database
        self._master = AESGCM(master_key)
        self._digest_key = hashlib.sha256(b"shiliu personal-data digest\x00" + master_key).digest()

    def create_tables(self) -> None:
        """Its tables, when they are missing (at the owner's start, never at construction)."""
        self.database.execute_script(_DDL)
        # who asked with which idempotency key (a digest); stores made before it lack it
        self.database.add_column("person_erasures", "request", "TEXT")

    def digest(self, data: dict[str, Any]) -> str:
        """A keyed digest of personal data, for comparing without keeping it (idempotency).

        A plain hash of a phone number could be reversed by trying every number; this one
        needs the master key.
        """
        body = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        return hmac.new(self._digest_key, body, hashlib.sha256).hexdigest()

    def put(self, person_id: str, record_id: str, kind: str, data: dict[str, Any]) -> None:
        with self.database.transaction() as tx:
            self._put(tx, Sealed(person_id, record_id, kind, data))

    def sealing(self, records: Sequence[Sealed]) -> Along:
        """The records' writes, to run in the transaction that saves the command's events
        (`services.runtime.database.ALONG`): sealed exactly when the command is stored."""

        def write(tx: Cursor) -> None:
            for record in records:
                self._put(tx, record)

        return write

    def _put(self, tx: Cursor, record: Sealed) -> None:
        self._overwrite_deleted(tx)
        key = self._person_key(tx, record.person_id, create=True)
        assert key is not None
        sealed = _seal(AESGCM(key), orjson.dumps(record.data), record.person_id.encode())
        tx.execute(
            "INSERT INTO {t:personal_records} (person_id, record_id, kind, sealed) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (person_id, record_id) "
            "DO UPDATE SET kind = excluded.kind, sealed = excluded.sealed",
            (record.person_id, record.record_id, record.kind, sealed),
        )

    def get(self, person_id: str, record_id: str) -> dict[str, Any] | None:
        """The record, or None when there is none or the person was erased."""
        with self.database.transaction(commit=False) as tx:
            return self._read(tx, person_id, record_id)

    def reveal(
        self, person_id: str, record_id: str, disclosure: Disclosure
    ) -> dict[str, Any] | None:
        """The record, logged as disclosed in the same transaction (no log, no data)."""
        with self.database.transaction() as tx:
            data = self._read(tx, person_id, record_id)
            if data is not None:
                tx.execute(*_insert("personal_access_log", disclosure))
        return data

    def disclosures(
        self, *, within: Mapping[str, str], person_id: str | None, limit: int, offset: int
    ) -> list[Disclosure]:
        """The access log, newest first, limited to records inside a territory."""
        where = [f"{level} = ?" for level in _TERRITORY if level in within]
        params: list[Any] = [within[level] for level in _TERRITORY if level in within]
        if person_id is not None:
            where.append("person_id = ?")
            params.append(person_id)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                f"SELECT {_columns(Disclosure)} FROM {{t:personal_access_log}} {clause}"
                "ORDER BY id DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
            return [Disclosure.model_validate(dict(row)) for row in tx.fetchall()]

    def records(self, person_id: str) -> dict[str, str]:
        """The ids of the person's records, with their kinds."""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT record_id, kind FROM {t:personal_records} WHERE person_id = ? "
                "ORDER BY record_id",
                (person_id,),
            )
            return {str(row["record_id"]): str(row["kind"]) for row in tx.fetchall()}

    def erase(
        self,
        person_id: str,
        *,
        actor_id: str = "system",
        role: str = "system",
        reason: str = "",
        at: datetime | None = None,
        checked: Collection[str] | None = None,
        request: str | None = None,
    ) -> Erasure:
        """Destroy the person's key and records (overwritten on disk), keeping an audit row.

        With `checked` (the record ids the caller was allowed to erase), nothing is destroyed
        unless those are exactly the person's records now: the key row is locked first, and a
        seal holds it shared (PostgreSQL) or waits for the write lock (SQLite), so no record
        can slip in between. PersonRecordsChangedError otherwise. `request` (a digest of who
        asked with which idempotency key) is kept, so a retry finds its first answer.
        """
        with self.database.transaction() as tx:
            self._overwrite_deleted(tx)
            tx.execute(  # a write: SQLite's write lock, PostgreSQL's row lock, before reading
                "UPDATE {t:person_keys} SET person_id = person_id WHERE person_id = ?",
                (person_id,),
            )
            tx.execute(
                "SELECT record_id FROM {t:personal_records} WHERE person_id = ?", (person_id,)
            )
            held = {str(row["record_id"]) for row in tx.fetchall()}
            if checked is not None and held != set(checked):
                raise PersonRecordsChangedError(person_id)
            erasure = Erasure(person_id=person_id, erased_at=at or datetime.now(UTC),
                              actor_id=actor_id, role=role, reason=reason,
                              records=len(held))  # fmt: skip
            tx.execute("DELETE FROM {t:person_keys} WHERE person_id = ?", (person_id,))
            tx.execute("DELETE FROM {t:personal_records} WHERE person_id = ?", (person_id,))
            tx.execute(*_insert("person_erasures", erasure, request=request))
        self._truncate_log()
        return erasure

    def erasure(self, person_id: str) -> Erasure | None:
        """The person's latest erasure, if they were ever erased."""
        return self._latest_erasure("person_id = ?", person_id)

    def requested_erasure(self, request: str) -> Erasure | None:
        """The erasure asked for as `request` (see `erase`), whoever it erased."""
        return self._latest_erasure("request = ?", request)

    def _latest_erasure(self, where: str, value: str) -> Erasure | None:
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                f"SELECT {_columns(Erasure)} FROM {{t:person_erasures}} WHERE {where} "
                "ORDER BY id DESC LIMIT 1",
                (value,),
            )
            row = tx.fetchone()
        return Erasure.model_validate(dict(row)) if row else None

    def _read(self, tx: Cursor, person_id: str, record_id: str) -> dict[str, Any] | None:
        key = self._person_key(tx, person_id, create=False)
        tx.execute(
            "SELECT sealed FROM {t:personal_records} WHERE person_id = ? AND record_id = ?",
            (person_id, record_id),
        )
        row = tx.fetchone()
        if key is None or row is None:
            return None
        data: dict[str, Any] = orjson.loads(
            _open(AESGCM(key), bytes(row["sealed"]), person_id.encode())
        )
        return data

    def _overwrite_deleted(self, tx: Cursor) -> None:
        """SQLite keeps deleted rows in free space unless told to zero it; a wrapped key found
        there would undo an erasure. (PostgreSQL reclaims dead rows at its next VACUUM.)"""
        if not self.database.is_postgres:
            tx.execute("PRAGMA secure_delete = ON")

    def _truncate_log(self) -> None:
        """Old page images of erased rows stay in SQLite's write-ahead log until a checkpoint."""
        datastore = self.database.datastore
        if not isinstance(datastore, SQLiteDatastore):
            return
        with datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = cursor.fetchone()
        if busy is not None and busy[0]:
            log.warning("the write-ahead log could not be truncated after an erasure")

    def _person_key(self, tx: Cursor, person_id: str, *, create: bool) -> bytes | None:
        # sealing holds the key shared until its command commits: an erasure (which locks it
        # first) then sees the new record, or the new record waits and gets a new key
        share = " FOR SHARE" if create and self.database.is_postgres else ""
        tx.execute(
            "SELECT wrapped_key FROM {t:person_keys} WHERE person_id = ?" + share, (person_id,)
        )
        row = tx.fetchone()
        if row is not None:
            return _open(self._master, bytes(row["wrapped_key"]), person_id.encode())
        if not create:
            return None
        key = AESGCM.generate_key(bit_length=256)
        tx.execute(
            "INSERT INTO {t:person_keys} (person_id, wrapped_key) VALUES (?, ?)",
            (person_id, _seal(self._master, key, person_id.encode())),
        )
        return key


def _seal(cipher: AESGCM, plaintext: bytes, context: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + cipher.encrypt(nonce, plaintext, context)


def _open(cipher: AESGCM, sealed: bytes, context: bytes) -> bytes:
    return cipher.decrypt(sealed[:_NONCE], sealed[_NONCE:], context)
