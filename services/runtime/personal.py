"""Personal data kept out of events: encrypted per person, erased by destroying the key.

Envelope encryption: every person has a random data key, stored wrapped by the service's
master key; records are sealed with AES-GCM under the person's key. Erasure deletes the
wrapped key and the ciphertexts, so history (which only names the person's id) stays intact.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.runtime.database import Cursor, Database

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:person_keys} "
    "(person_id TEXT PRIMARY KEY, wrapped_key {blob} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t:personal_records} "
    "(person_id TEXT NOT NULL, record_id TEXT NOT NULL, kind TEXT NOT NULL, "
    "sealed {blob} NOT NULL, PRIMARY KEY (person_id, record_id))",
)
_NONCE = 12
MASTER_KEY_BYTES = 32


class PersonalDataVault:
    def __init__(self, database: Database, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            msg = f"the master key must be {MASTER_KEY_BYTES} bytes"
            raise ValueError(msg)
        self.database = database
        self._master = AESGCM(master_key)
        database.execute_script(_DDL)

    def put(self, person_id: str, record_id: str, kind: str, data: dict[str, Any]) -> None:
        with self.database.transaction() as tx:
            key = self._person_key(tx, person_id, create=True)
            assert key is not None
            sealed = _seal(AESGCM(key), orjson.dumps(data), person_id.encode())
            tx.execute(
                "INSERT INTO {t:personal_records} (person_id, record_id, kind, sealed) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (person_id, record_id) "
                "DO UPDATE SET kind = excluded.kind, sealed = excluded.sealed",
                (person_id, record_id, kind, sealed),
            )

    def get(self, person_id: str, record_id: str) -> dict[str, Any] | None:
        """The record, or None when there is none or the person was erased."""
        with self.database.transaction(commit=False) as tx:
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

    def erase(self, person_id: str) -> None:
        with self.database.transaction() as tx:
            tx.execute("DELETE FROM {t:person_keys} WHERE person_id = ?", (person_id,))
            tx.execute("DELETE FROM {t:personal_records} WHERE person_id = ?", (person_id,))

    def _person_key(self, tx: Cursor, person_id: str, *, create: bool) -> bytes | None:
        tx.execute("SELECT wrapped_key FROM {t:person_keys} WHERE person_id = ?", (person_id,))
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
