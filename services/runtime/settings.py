"""Settings every service shares: where its store is and how to reach the bus."""

from __future__ import annotations

import base64
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, SecretStr, field_validator

from events.access import inbox_prefix


class StoreKind(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class StoreSettings(BaseModel):
    """One service's store of record: a SQLite file by default, PostgreSQL at scale."""

    kind: StoreKind = StoreKind.SQLITE
    sqlite_path: Path = Path("data/store.sqlite")
    pg_host: str = "127.0.0.1"
    pg_port: int = Field(default=5432, ge=1, le=65535)
    pg_dbname: str = "shiliu"
    pg_user: str = "postgres"
    pg_password: str = ""
    pg_schema: str = "public"
    pg_pool_size: int = Field(default=8, ge=1, le=200)

    @field_validator("pg_schema")
    @classmethod
    def _schema_is_an_identifier(cls, value: str) -> str:
        if not _SCHEMA.fullmatch(value):
            msg = "must be a lower-case SQL identifier (letters, digits, '_')"
            raise ValueError(msg)
        return value


class BusSettings(BaseModel):
    """How a service reaches NATS."""

    url: str = "nats://127.0.0.1:4222"
    """One URL, or several separated by commas (the seeds of a cluster)."""
    publish_timeout_seconds: float = Field(default=5.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    user: str | None = None
    """This service's own NATS user (see `events.access`); none on an open server."""
    password: SecretStr | None = None
    """Shown as `**********` wherever settings are printed or logged."""

    @property
    def servers(self) -> list[str]:
        return [part.strip() for part in self.url.split(",") if part.strip()]

    def auth_options(self) -> dict[str, Any]:
        """`nats.connect` keywords: the user, its password, and its own inbox for replies."""
        if self.user is None:
            return {}
        password = self.password.get_secret_value() if self.password else ""
        return {"user": self.user, "password": password, "inbox_prefix": inbox_prefix(self.user)}


MASTER_KEY_BYTES = 32


def decode_key(value: str) -> bytes:
    """A key setting's bytes; ValueError naming the rule when it is not base64."""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        msg = "must be valid base64"
        raise ValueError(msg) from None


def _is_a_master_key(value: str) -> str:
    if value and len(decode_key(value)) != MASTER_KEY_BYTES:
        msg = f"must be base64 of exactly {MASTER_KEY_BYTES} bytes"
        raise ValueError(msg)
    return value


MasterKey = Annotated[
    str,
    AfterValidator(_is_a_master_key),
    Field(description="base64 of 32 random bytes; seals personal data. Required."),
]
"""A service's master key: it wraps each person's key in the service's own vault."""
