"""The tickets service's settings: `SHILIU_TICKETS_…` in the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.identity import AuthSettings
from services.runtime.settings import BusSettings, MasterKey, StoreSettings, decode_key
from services.tickets.routing import DEFAULT_RULES


class TicketsSettings(BaseSettings):
    """Environment: `SHILIU_TICKETS_…`, nested with `__` (e.g. `SHILIU_TICKETS_STORE__KIND`)."""

    model_config = SettingsConfigDict(env_prefix="SHILIU_TICKETS_", env_nested_delimiter="__")

    store: StoreSettings = StoreSettings(sqlite_path=Path("data/tickets.sqlite"))
    bus: BusSettings = BusSettings()
    auth: AuthSettings = AuthSettings()
    host: str = "127.0.0.1"
    port: int = Field(default=8701, ge=1, le=65535)
    master_key: MasterKey = ""
    store_cipher_key: str = Field(
        default="",
        description="base64 of a 16, 24 or 32 byte AES key encrypting the event store at rest; "
        "empty = off. It cannot be changed in place (see the README).",
    )
    relay_enabled: bool = True
    poll_seconds: float = Field(default=0.5, gt=0)
    expiry_sweep_seconds: float = Field(default=60.0, gt=0)
    deadline_sweep_seconds: float = Field(default=15.0, gt=0)
    rules_file: Path = DEFAULT_RULES
    """Routing rules (service categories, handlers, deadlines), versioned with effective dates;
    published for every district whose territory is loaded."""
    territory_files: list[Path] = []
    """One JSON file per district: streets, communities, grids and buildings."""
    page_sites: list[str] = []
    """The other services' page origins (e.g. `http://127.0.0.1:8703`) that sign-in may send
    a person back to; any other absolute `next` is refused."""
    open311_jurisdiction: str = "jinfeng"
    """The district served at `/open311/v2` (GeoReport v2's `jurisdiction_id`)."""
    open311_locate_radius_m: float = Field(default=100.0, gt=0, le=5000)
    """A request posted by coordinates outside every grid's outline goes to the nearest
    building at most this far away."""

    @field_validator("store_cipher_key")
    @classmethod
    def _is_an_aes_key(cls, value: str) -> str:
        if value and len(decode_key(value)) not in (16, 24, 32):
            msg = "must be base64 of a 16, 24 or 32 byte AES key"
            raise ValueError(msg)
        return value
