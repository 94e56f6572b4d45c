"""The ledger service's settings and composition root.

Readiness (`/health/ready`) is 503 while any pull loop is not running, not bound to its
consumer or failing to fetch, while the bus is unreachable, and while a gap in a feed has stayed
open longer than `gap_alarm_seconds`: the ledger then answers with figures it knows to be
incomplete, because the source could not fill the gap in time (it is down, its replay does not
answer). A younger gap does not fail readiness, it is being repaired; `held` and `open_gaps`
show it all the same, in readiness, `/ops/consumer` and `shiliu status`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.ledger.api import ledger_router, parking_router
from services.ledger.books import Books
from services.runtime.consumer import PullLoop
from services.runtime.database import Database, open_datastore, prepare_store
from services.runtime.feeds import FamilyConsumer
from services.runtime.gaps import OpenGap
from services.runtime.health import Readiness
from services.runtime.http import service_app
from services.runtime.identity import AuthSettings, authorize
from services.runtime.replay import ReplayClient
from services.runtime.settings import BusSettings, StoreSettings
from services.runtime.supervise import Supervisor


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
    gap_grace_seconds: float = Field(default=2.0, ge=0, le=300)
    """How long a gap may stay open by itself (a redelivery, another instance) before the
    ledger asks the source for the missing events."""
    head_check_seconds: float = Field(default=10.0, gt=0, le=3600)
    """How often a quiet consumer compares its marks with the sources' heads."""
    gap_alarm_seconds: float = Field(default=30.0, ge=0, le=86400)
    """How long a gap may stay open before readiness fails: past the grace period the ledger
    asks the source, so a gap this old is one the source could not fill."""


class Ledger:
    """The ledger service's parts: its books, its parking lot, one pull loop per family."""

    def __init__(self, settings: LedgerSettings) -> None:
        self.settings = settings
        self.datastore = open_datastore(settings.store)
        self.database = Database(self.datastore)
        self.ledger = Books(self.database)
        self.parking = self.ledger.parking
        self.replay = ReplayClient(settings.bus, "ledger")
        self.consumers = [
            FamilyConsumer(
                self.database, family, self.replay,
                gap_grace_seconds=settings.gap_grace_seconds,
                head_check_seconds=settings.head_check_seconds,
            )
            for family in self.ledger.families
        ]  # fmt: skip
        self.pulls = [
            PullLoop(
                settings.bus, c.spec, c.on_events, batch_size=settings.batch_size, on_idle=c.on_idle
            )
            for c in self.consumers
        ]
        self.supervisor = Supervisor()
        self._opened = False

    def open(self) -> Ledger:
        """Make the store's place and the books' tables, when missing. Once; building the
        ledger touches nothing, and `running()` opens it first."""
        if not self._opened:
            prepare_store(self.settings.store)
            self.ledger.create_tables()
            self._opened = True
        return self

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        await asyncio.to_thread(self.open)
        if self.settings.consume:
            for pull in self.pulls:
                self.supervisor.start(pull.spec.durable, pull.run, pull.condition)
        try:
            yield
        finally:
            await self.supervisor.stop()
            await self.replay.close()
            for consumer in self.consumers:
                await consumer.workers.drain()

    def close(self) -> None:
        self.datastore.close()

    def status(self) -> dict[str, Any]:
        """Per consumer: events applied by this process, feed marks, messages held behind a
        gap, the gaps found and those still open; parked count."""
        now = datetime.now(UTC)
        consumers: dict[str, dict[str, Any]] = {
            c.spec.durable: {
                "applied": c.applied,
                "marks": c.intake.marks(),
                "held": c.held,
                "gaps": c.intake.gaps.counts(),
                "open_gaps": [_open_gap(gap, now) for gap in c.intake.gaps.open()],
                "ahead_of_source": {
                    feed: {"mark": mark, "source_head": head}
                    for feed, (mark, head) in c.ahead.items()
                },
            }
            for c in self.consumers
        }
        return {
            "applied": sum(c.applied for c in self.consumers),
            "consumers": consumers,
            "held": sum(c.held for c in self.consumers),
            "gaps": _totals(c["gaps"] for c in consumers.values()),
            "open_gaps": [
                {"consumer": name, **gap} for name, c in consumers.items() for gap in c["open_gaps"]
            ],
            "parked": self.parking.count(),
            "loops": self.supervisor.report(),
        }

    def _gap_problems(self, open_gaps: list[dict[str, Any]]) -> dict[str, str]:
        return {
            f"{gap['consumer']} {gap['feed']}": (
                f"events {gap['after'] + 1}..{gap['until']} missing for "
                f"{gap['open_seconds']:.0f}s (since {gap['detected_at']})"
            )
            for gap in open_gaps
            if gap["open_seconds"] > self.settings.gap_alarm_seconds
        }

    def readiness(self) -> Readiness:
        """Ready: the store answers, every loop runs and is bound to its consumer with its last
        fetch working, and (when consuming) the bus is reached; `problems` names what is not."""
        status = self.status()
        gaps = self._gap_problems(status["open_gaps"])
        ahead = {
            f"{name} {feed}": (
                f"applied up to {where['mark']}, but the source numbered only "
                f"{where['source_head']}: events past it did not come from the source"
            )
            for name, consumer in status["consumers"].items()
            for feed, where in consumer["ahead_of_source"].items()
        }
        checks = {
            "store": True,
            "loops": self.supervisor.alive,
            "bus": all(pull.is_connected for pull in self.pulls) if self.settings.consume else True,
            "gaps": not gaps,
            "sources": not ahead,
        }
        lag = {pull.spec.durable: pull.lag for pull in self.pulls}
        shown = ("held", "gaps", "open_gaps", "parked", "loops")
        details = {"lag": lag, "problems": {**self.supervisor.problems(), **gaps, **ahead},
                   **{k: status[k] for k in shown}}  # fmt: skip
        return Readiness(checks=checks, details=details)


def _open_gap(gap: OpenGap, now: datetime) -> dict[str, Any]:
    return {
        "feed": gap.feed, "after": gap.after, "until": gap.until,
        "detected_at": gap.detected_at.isoformat(), "open_seconds": gap.open_seconds(now),
    }  # fmt: skip


def _totals(gaps: Any) -> dict[str, int]:
    totals: dict[str, int] = {}
    for counts in gaps:
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    ledger = Ledger(settings or LedgerSettings())

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with ledger.running():
            yield
        ledger.close()

    async def readiness() -> Readiness:
        return await asyncio.to_thread(ledger.readiness)

    app = service_app("ledger", auth=ledger.settings.auth, lifespan=lifespan, readiness=readiness)
    app.state.ledger = ledger
    app.include_router(ledger_router(ledger.ledger))
    app.include_router(parking_router(ledger.ledger))

    @app.get("/ops/consumer", tags=["ops"], dependencies=[authorize("ops.read")])
    async def consumer_status() -> dict[str, Any]:
        return await asyncio.to_thread(ledger.status)

    return app
