"""The ledger service's settings and composition root."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.ledger.api import ledger_router, parking_router
from services.ledger.books import Books
from services.ledger.subscribers import FamilyConsumer
from services.runtime.consumer import PullLoop
from services.runtime.database import Database, open_datastore
from services.runtime.http import service_app
from services.runtime.identity import AuthSettings, authorize
from services.runtime.parking import ParkingLot
from services.runtime.settings import BusSettings, StoreSettings


class LedgerSettings(BaseSettings):
    """Environment: `SHILIU_LEDGER_…`, nested with `__` (e.g. `SHILIU_LEDGER_STORE__KIND`)."""

    model_config = SettingsConfigDict(env_prefix="SHILIU_LEDGER_", env_nested_delimiter="__")

    store: StoreSettings = StoreSettings(sqlite_path=Path("data/ledger.sqlite"))
    bus: BusSettings = BusSettings()
    auth: AuthSettings = AuthSettings()
    host: str = "127.0.0.1"
    port: int = Field(default=8702, ge=1, le=65535)
    consume: bool = True
    batch_size: int = Field(default=100, ge=1, le=1000)


class Ledger:
    """The ledger service's parts: its books, its parking lot, one pull loop per family."""

    def __init__(self, settings: LedgerSettings) -> None:
        self.settings = settings
        self.datastore = open_datastore(settings.store)
        self.database = Database(self.datastore)
        self.ledger = Books(self.database)
        self.parking = ParkingLot(self.database)
        self.consumers = [
            FamilyConsumer(self.database, family, self.parking) for family in self.ledger.families
        ]
        self.pulls = [
            PullLoop(settings.bus, c.spec, c.on_events, batch_size=settings.batch_size)
            for c in self.consumers
        ]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = (
            [asyncio.create_task(pull.run(), name=pull.spec.durable) for pull in self.pulls]
            if self.settings.consume
            else []
        )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for consumer in self.consumers:
                await consumer.workers.drain()

    def close(self) -> None:
        self.datastore.close()

    def status(self) -> dict[str, Any]:
        """Events applied in all and per consumer, and how many messages are parked."""
        applied = {c.spec.durable: c.applied for c in self.consumers}
        return {"applied": sum(applied.values()), "consumers": applied,
                "parked": self.parking.count()}  # fmt: skip


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    ledger = Ledger(settings or LedgerSettings())

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with ledger.running():
            yield
        ledger.close()

    app = service_app("ledger", auth=ledger.settings.auth, lifespan=lifespan)
    app.state.ledger = ledger
    app.include_router(ledger_router(ledger.ledger))
    app.include_router(parking_router(ledger.parking))

    @app.get("/ops/consumer", tags=["ops"], dependencies=[authorize("ops.read")])
    async def consumer_status() -> dict[str, Any]:
        return ledger.status()

    return app
