"""The matching service's settings and composition root: the unit registry and the two lists
on its own store, told to the bus by its own relay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from fastapi import FastAPI
from nats.errors import Error as NatsError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.topology import MATCHING_STREAM
from services.matching.evaluations import api as evaluations_api
from services.matching.evaluations.application import Evaluations
from services.matching.lists import api as lists_api
from services.matching.lists.application import Lists
from services.matching.matches import api as matches_api
from services.matching.matches.application import MatchDesk
from services.matching.matches.coordinating import Coordinator
from services.matching.matches.loop import MatchmakerLoop
from services.matching.matches.proposing import Matchmaker
from services.matching.matches.view import MatchesView
from services.matching.needs import TicketNeeds, WishNeeds, create_need_tables
from services.matching.pages.common import Pages, Parts
from services.matching.pages.coordinate import coordinate_router
from services.matching.pages.unit import unit_router
from services.matching.pages.wall import wall_router
from services.matching.publishing import SOURCE, translator
from services.matching.registry import api as registry_api
from services.matching.registry.application import UnitRegistry
from services.matching.store import MatchingStore
from services.matching.territory import Places, UnknownPlaceError
from services.matching.view import ListsView
from services.runtime.bus import make_broker
from services.runtime.consumer import PullLoop
from services.runtime.database import Database, eventsourcing_env, prepare_store
from services.runtime.feeds import FamilyConsumer
from services.runtime.health import Readiness
from services.runtime.http import field_details, service_app
from services.runtime.idempotency import IdempotencyKeyReusedError
from services.runtime.identity import AuthSettings
from services.runtime.outbox import Outbox
from services.runtime.parked import parked_router, retry_parked
from services.runtime.parking import ParkingLot
from services.runtime.personal import PersonalDataVault
from services.runtime.place import Clock, utc_now
from services.runtime.publishing import EventIds
from services.runtime.relay import JetStreamPublisher, Relay, relay_router
from services.runtime.replay import ReplayClient, ReplayResponder
from services.runtime.settings import BusSettings, MasterKey, StoreSettings, decode_key
from services.runtime.supervise import Supervisor
from services.runtime.territory_plan import DistrictPlan
from services.runtime.workers import StoreWorkers


class MatchingSettings(BaseSettings):
    """Environment: `SHILIU_MATCHING_…`, nested with `__` (e.g. `SHILIU_MATCHING_STORE__KIND`)."""

    model_config = SettingsConfigDict(env_prefix="SHILIU_MATCHING_", env_nested_delimiter="__")

    store: StoreSettings = StoreSettings(sqlite_path=Path("data/matching.sqlite"))
    bus: BusSettings = BusSettings()
    auth: AuthSettings = AuthSettings()
    host: str = "127.0.0.1"
    port: int = Field(default=8703, ge=1, le=65535)
    master_key: MasterKey = ""
    """Seals the units' contacts."""
    relay_enabled: bool = True
    """Relay to the bus and consume the tickets service's wishes and tickets (off: offline)."""
    poll_seconds: float = Field(default=0.5, gt=0)
    matchmaker_seconds: float = Field(default=1.0, gt=0)
    """How often the matchmaker looks for needs without proposals and proposals past due."""
    territory_files: list[Path] = []
    """The districts' territory files (the tickets service's): where units and listings lie."""
    signin_url: str | None = None
    """Where the pages send a visitor who is not signed in (e.g. the tickets service's
    `http://127.0.0.1:8701/signin`, which must list this service among its `page_sites`)."""
    board_url: str | None = None
    """The tickets service's wish boards (e.g. `http://127.0.0.1:8701/board`), linked from a
    unit's page: a unit takes a wish by claiming it there."""


def _datastore(app: Application[UUID]) -> Any:
    return getattr(app.recorder, "datastore")  # noqa: B009 - both recorders carry one


class Matching:
    """Everything the matching service runs, built from settings. Building touches nothing:
    `open()` (first thing `running()` does) makes the tables and reads the territory files."""

    def __init__(self, settings: MatchingSettings, *, clock: Clock = utc_now) -> None:
        if not settings.master_key:
            msg = "SHILIU_MATCHING_MASTER_KEY is required (base64 of 32 random bytes)"
            raise ValueError(msg)
        key = decode_key(settings.master_key)
        self.settings = settings

        def vault(app: Application[UUID]) -> PersonalDataVault:
            return PersonalDataVault(Database(_datastore(app)), key)

        self.store = MatchingStore(eventsourcing_env(settings.store), vault=vault, clock=clock)
        self.database = Database(_datastore(self.store))
        self.places = Places()
        self.registry = UnitRegistry(self.store.commands, self.store.vault)
        self.lists = Lists(self.store.commands)
        self.evaluations = Evaluations(self.store.commands)
        self.translate = translator(self.store.mapper, EventIds(key))
        self.workers = StoreWorkers("matching-store")
        self.view = ListsView(
            database=self.database, recorder=self.store.recorder, translate=self.translate,
            poll_seconds=settings.poll_seconds, workers=self.workers,
        )  # fmt: skip
        self.broker = make_broker(settings.bus, name=f"shiliu-{SOURCE}")
        self.outbox = Outbox(self.database, self.translate)
        self.relay = Relay(
            outbox=self.outbox,
            recorder=self.store.recorder,
            publisher=JetStreamPublisher(
                self.broker, stream=MATCHING_STREAM.name,
                timeout=settings.bus.publish_timeout_seconds,
            ),
            poll_seconds=settings.poll_seconds,
            workers=self.workers,
        )  # fmt: skip
        self.matches_view = MatchesView(
            database=self.database, recorder=self.store.recorder, translate=self.translate,
            poll_seconds=settings.poll_seconds, workers=self.workers,
        )  # fmt: skip
        self.desk = MatchDesk(self.store.commands, self.database)
        self.matchmaker = Matchmaker(self.desk, self.matches_view, self.database)
        self.coordinator = Coordinator(self.matchmaker, self.desk, self.database)
        self.matchmaking = MatchmakerLoop(
            self.matchmaker, (self.view, self.matches_view),
            every_seconds=settings.matchmaker_seconds, workers=self.workers,
        )  # fmt: skip
        self.store.listeners += [self.view.wake, self.matches_view.wake, self.relay.wake]
        self.replay = ReplayResponder(settings.bus, SOURCE, self.outbox.page, self.workers)
        self.parking = ParkingLot(self.database)
        self.needs = (
            WishNeeds(self.database, self.parking),
            TicketNeeds(self.database, self.parking),
        )
        self.replays = ReplayClient(settings.bus, SOURCE)
        self.feeds = [FamilyConsumer(self.database, needs, self.replays) for needs in self.needs]
        self.pulls = [
            PullLoop(settings.bus, feed.spec, self._then_match(feed), on_idle=feed.on_idle)
            for feed in self.feeds
        ]
        self.supervisor = Supervisor()
        self._opened = False

    def _then_match(self, feed: FamilyConsumer[Any]) -> Any:
        async def on_events(batch: Any) -> None:
            await feed.on_events(batch)
            self.matchmaking.wake()

        return on_events

    def open(self) -> Matching:
        """Make the store's place and its tables (when missing), then read the territory
        files. Once; later calls do nothing."""
        if not self._opened:
            prepare_store(self.settings.store)
            self.store.create_tables()
            self.parking.create_tables()
            create_need_tables(self.database)
            for part in (self.outbox, self.view, self.matches_view):
                part.create_tables()
            for needs in self.needs:
                needs.intake.create_tables()
            self.places.load(DistrictPlan.load(path) for path in self.settings.territory_files)
            self._opened = True
        return self

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        await asyncio.to_thread(self.open)
        loops = self.supervisor
        loops.start("matching-lists-view", self.view.run, self.view.condition)
        loops.start("matching-matches-view", self.matches_view.run, self.matches_view.condition)
        loops.start("matchmaker", self.matchmaking.run, self.matchmaking.condition)
        if self.settings.relay_enabled:
            await self.broker.connect()
            await self.replay.start()
            loops.start("matching-relay", self.relay.run, self.relay.condition)
            for pull in self.pulls:
                loops.start(pull.spec.durable, pull.run, pull.condition)
        try:
            yield
        finally:
            await loops.stop()
            if self.settings.relay_enabled:
                await self.replay.stop()
                await self.replays.close()
            await self.workers.drain()
            for feed in self.feeds:
                await feed.workers.drain()
            if self.settings.relay_enabled:
                with contextlib.suppress(NatsError):  # a bus already gone cannot be drained
                    await self.broker.stop()

    def close(self) -> None:
        self.store.close()

    def readiness(self) -> Readiness:
        """Ready: the store answers, every loop runs and its last pass worked, and the relay's
        bus is connected."""
        bus = self.broker._connection is not None and self.broker._connection.is_connected
        checks = {"store": True, "loops": self.supervisor.alive}
        if self.settings.relay_enabled:
            connected = all(pull.is_connected for pull in self.pulls)
            checks["bus"] = bool(bus) and self.replay.is_connected and connected
        feeds = {
            feed.spec.durable: {
                "applied": feed.applied,
                "held": feed.held,
                "marks": feed.intake.marks(),
            }
            for feed in self.feeds
        }
        details = {"relay": self.relay.status(), "feeds": feeds, "parked": self.parking.count(),
                   "proposed": self.matchmaking.proposed, "loops": self.supervisor.report(),
                   "problems": self.supervisor.problems()}  # fmt: skip
        return Readiness(checks=checks, details=details)


def create_app(settings: MatchingSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    matching = Matching(settings or MatchingSettings(), clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with matching.running():
            yield
        matching.close()

    async def readiness() -> Readiness:
        return await asyncio.to_thread(matching.readiness)

    errors = {
        **registry_api.ERRORS, **lists_api.ERRORS, **matches_api.ERRORS, **evaluations_api.ERRORS,
        UnknownPlaceError: (422, field_details), IdempotencyKeyReusedError: (422, lambda _: {}),
    }  # fmt: skip
    app = service_app(
        SOURCE, auth=matching.settings.auth, lifespan=lifespan, errors=errors, readiness=readiness
    )
    app.state.matching = matching
    app.include_router(registry_api.unit_router(matching.registry, matching.view, matching.places))
    app.include_router(lists_api.listing_router(matching.lists, matching.view, matching.places))
    app.include_router(
        matches_api.match_router(
            matching.desk, matching.coordinator, matching.matches_view, matching.places
        )
    )
    app.include_router(evaluations_api.evaluation_router(
        matching.evaluations, matching.registry, matching.matchmaker.records
    ))  # fmt: skip
    app.include_router(relay_router(matching.relay))
    app.include_router(parked_router(
        matching.parking,
        lambda parked_id: retry_parked(matching.database, matching.needs, parked_id),
        service="matching",
    ))  # fmt: skip
    pages = Pages(matching.settings.signin_url, (matching.view, matching.matches_view), errors)
    parts = Parts(
        registry=matching.registry, lists=matching.lists, desk=matching.desk,
        coordinator=matching.coordinator, view=matching.view, matches_view=matching.matches_view,
        records=matching.matchmaker.records, places=matching.places, clock=clock,
        board_url=matching.settings.board_url,
    )  # fmt: skip
    app.include_router(wall_router(pages, matching.view, matching.places, clock))
    app.include_router(unit_router(pages, parts))
    app.include_router(coordinate_router(pages, parts))
    return app
