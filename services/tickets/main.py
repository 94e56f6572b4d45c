"""The tickets service's settings and composition root."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from fastapi import FastAPI
from nats.errors import Error as NatsError

from events.topology import TICKETS_STREAM
from services.runtime.bus import make_broker
from services.runtime.consumer import PullLoop
from services.runtime.database import Database, eventsourcing_env, prepare_store
from services.runtime.feeds import FamilyConsumer
from services.runtime.health import Readiness
from services.runtime.http import service_app
from services.runtime.outbox import PUBLISHED, Outbox
from services.runtime.parked import parked_router, retry_parked
from services.runtime.parking import ParkingLot
from services.runtime.personal import PersonalDataVault
from services.runtime.place import Clock, utc_now
from services.runtime.publishing import EventIds
from services.runtime.relay import JetStreamPublisher, Relay, relay_router
from services.runtime.replay import ReplayClient, ReplayResponder
from services.runtime.settings import StoreSettings, decode_key
from services.runtime.supervise import Supervisor
from services.runtime.territory_plan import DistrictPlan
from services.runtime.workers import StoreWorkers
from services.tickets import territory_api
from services.tickets.mediation import api as mediation_api
from services.tickets.mediation.application import MediationDesk
from services.tickets.mediation.publishing import DISPUTES
from services.tickets.personal import PersonalData, personal_router
from services.tickets.publishing import SOURCE, translator
from services.tickets.routing import RulebookFile
from services.tickets.settings import TicketsSettings
from services.tickets.signin import signin_router
from services.tickets.store import TicketsStore
from services.tickets.ticketing import api as ticket_api
from services.tickets.ticketing.application import Dispatcher
from services.tickets.ticketing.deadline import DEADLINE
from services.tickets.ticketing.open311 import open311_router
from services.tickets.ticketing.publishing import TICKETS, VISITS
from services.tickets.ticketing.scheduler import DeadlineScheduler
from services.tickets.ticketing.view import TicketDeskView
from services.tickets.ticketing.visit_api import visit_router
from services.tickets.ticketing.visiting import VisitDesk
from services.tickets.units import UnitRoster
from services.tickets.wishes import api
from services.tickets.wishes.application import WishDesk
from services.tickets.wishes.board import WishBoardView
from services.tickets.wishes.domain import Wish
from services.tickets.wishes.expiry import ExpirySweeper
from services.tickets.wishes.pages import page_router
from services.tickets.wishes.publishing import WISHES

RELAY_NAME = PUBLISHED
__all__ = [
    "RELAY_NAME",
    "Tickets",
    "TicketsSettings",
    "create_app",
    "open_tickets_store",
    "tickets_store",
]


def tickets_store(
    env: Mapping[str, str],
    *,
    vault: Callable[[Application[UUID]], PersonalDataVault] | None = None,
    clock: Clock = utc_now,
) -> TicketsStore:
    """The store with what its peers' events carry (a ticket's deadline) and the snapshot
    interval of the aggregate that can grow long (a joint wish's claims and refusals)."""
    return TicketsStore(
        env, transcodings=(DEADLINE,), snapshotting_intervals={Wish: 100},
        vault=vault, clock=clock,
    )  # fmt: skip


def open_tickets_store(store: StoreSettings, *, clock: Clock = utc_now) -> TicketsStore:
    """A tickets store without a vault, opened now with its tables (tools and benchmarks)."""
    prepare_store(store)
    opened = tickets_store(eventsourcing_env(store), clock=clock)
    opened.create_tables()
    return opened


class Tickets:
    """Everything the tickets service runs, built from settings. Building touches nothing:
    `open()` (first thing `running()` does) makes the tables and imports the files."""

    def __init__(self, settings: TicketsSettings, *, clock: Clock = utc_now) -> None:
        if not settings.master_key:
            msg = "SHILIU_TICKETS_MASTER_KEY is required (base64 of 32 random bytes)"
            raise ValueError(msg)
        key = decode_key(settings.master_key)
        self.settings = settings

        def vault(app: Application[UUID]) -> PersonalDataVault:
            return PersonalDataVault(Database(_datastore(app)), key)

        env = eventsourcing_env(settings.store, cipher_key=settings.store_cipher_key)
        self.store = tickets_store(env, vault=vault, clock=clock)
        self.database = Database(_datastore(self.store))
        self.parking = ParkingLot(self.database)
        self.units = UnitRoster(self.database, self.parking)
        """The registry's units, from matching over the bus: who may claim where."""
        self.wishes = WishDesk.on(self.store, self.units)
        self.personal = PersonalData(self.store)
        self.atlas = self.store.atlas
        self.desk = MediationDesk(self.store.commands, self.atlas, self.store.vault)
        self.dispatcher = Dispatcher(self.store.commands, self.atlas, self.store.vault)
        self.visits = VisitDesk(self.store.commands, self.atlas, self.store.vault)
        self.translate = translator(
            self.store.mapper, EventIds(key), (WISHES, TICKETS, VISITS, DISPUTES)
        )
        self.workers = StoreWorkers("tickets-store")
        self.view = WishBoardView(
            database=self.database,
            recorder=self.store.recorder,
            translate=self.translate,
            poll_seconds=settings.poll_seconds,
            workers=self.workers,
        )
        self.broker = make_broker(settings.bus, name=f"shiliu-{SOURCE}")
        self.outbox = Outbox(self.database, self.translate)
        self.relay = Relay(
            outbox=self.outbox,
            recorder=self.store.recorder,
            publisher=JetStreamPublisher(
                self.broker,
                stream=TICKETS_STREAM.name,
                timeout=settings.bus.publish_timeout_seconds,
            ),
            poll_seconds=settings.poll_seconds,
            workers=self.workers,
        )
        self.desk_view = TicketDeskView(
            database=self.database,
            recorder=self.store.recorder,
            translate=self.translate,
            poll_seconds=settings.poll_seconds,
            workers=self.workers,
        )
        self.store.listeners += [self.view.wake, self.relay.wake, self.desk_view.wake]
        self.scheduler = DeadlineScheduler(
            self.desk_view,
            {
                "ticket": lambda caller, id_: self.dispatcher.watch(caller, id_).recorded,
                "dispute": self.desk.watch_deadline,
            },
            every_seconds=settings.deadline_sweep_seconds,
            workers=self.workers,
        )
        self.expiry = ExpirySweeper(
            self.wishes,
            self.view,
            every_seconds=settings.expiry_sweep_seconds,
            workers=self.workers,
        )
        self.replay = ReplayResponder(settings.bus, SOURCE, self.outbox.page, self.workers)
        self.replays = ReplayClient(settings.bus, SOURCE)
        self.unit_feed = FamilyConsumer(self.database, self.units, self.replays)
        self.unit_pull = PullLoop(
            settings.bus, self.units.spec, self.unit_feed.on_events, on_idle=self.unit_feed.on_idle
        )
        self.supervisor = Supervisor()
        self._opened = False

    def open(self) -> Tickets:
        """Make the store's place and its tables (when missing), then import the territory and
        rule files (unchanged files store nothing). Once; later calls do nothing."""
        if not self._opened:
            prepare_store(self.settings.store)
            self.store.create_tables()
            for part in (self.outbox, self.view, self.desk_view, self.units):
                part.create_tables()
            self._load_atlas()
            self._opened = True
        return self

    def _load_atlas(self) -> None:
        rules = RulebookFile.load(self.settings.rules_file)
        for path in self.settings.territory_files:
            plan = DistrictPlan.load(path)
            self.atlas.import_plan(plan)
            self.atlas.publish_rules(plan.code, rules)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        await asyncio.to_thread(self.open)
        loops = self.supervisor
        loops.start("wish-board-view", self.view.run, self.view.condition)
        loops.start("wish-expiry", self.expiry.run)
        loops.start("ticket-desk-view", self.desk_view.run, self.desk_view.condition)
        loops.start("deadlines", lambda: self.scheduler.run(self.store.clock))
        if self.settings.relay_enabled:
            await self.broker.connect()
            await self.replay.start()
            loops.start("tickets-relay", self.relay.run, self.relay.condition)
            loops.start(self.units.spec.durable, self.unit_pull.run, self.unit_pull.condition)
        try:
            yield
        finally:
            await loops.stop()
            if self.settings.relay_enabled:
                await self.replay.stop()
                await self.replays.close()
            await self.workers.drain()
            await self.unit_feed.workers.drain()
            if self.settings.relay_enabled:
                with contextlib.suppress(NatsError):  # a bus already gone cannot be drained
                    await self.broker.stop()

    def close(self) -> None:
        self.store.close()

    def relay_status(self) -> dict[str, Any]:
        return self.relay.status()

    def readiness(self) -> Readiness:
        """Ready: the store answers, every loop runs and its last pass worked (a relay whose
        publishes fail is not ready), and the relay's bus is connected."""
        relay = self.relay_status()
        bus = self.broker._connection is not None and self.broker._connection.is_connected
        checks = {"store": True, "loops": self.supervisor.alive}
        if self.settings.relay_enabled:
            checks["bus"] = bool(bus) and self.replay.is_connected and self.unit_pull.is_connected
        units = {"applied": self.unit_feed.applied, "held": self.unit_feed.held,
                 "lag": self.unit_pull.lag, "parked": self.parking.count()}  # fmt: skip
        details = {"relay": relay, "units": units, "loops": self.supervisor.report(),
                   "problems": self.supervisor.problems(),
                   "sweep_failures": self.expiry.failures + self.scheduler.failures,
                   "sweeps_failing": {"wish-expiry": self.expiry.failing.report(),
                                      "deadlines": self.scheduler.failing.report()}}  # fmt: skip
        return Readiness(checks=checks, details=details)


def _datastore(app: Application[UUID]) -> Any:
    return getattr(app.recorder, "datastore")  # noqa: B009 - both recorders carry one


def create_app(settings: TicketsSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    tickets = Tickets(settings or TicketsSettings(), clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with tickets.running():
            yield
        tickets.close()

    async def readiness() -> Readiness:
        return await asyncio.to_thread(tickets.readiness)

    app = service_app(
        SOURCE,
        auth=tickets.settings.auth,
        lifespan=lifespan,
        errors={**api.ERRORS, **ticket_api.ERRORS, **mediation_api.ERRORS, **territory_api.ERRORS},
        readiness=readiness,
    )
    app.state.tickets = tickets
    app.include_router(api.wish_router(tickets.wishes, tickets.view))
    app.include_router(personal_router(tickets.personal))
    app.include_router(ticket_api.ticket_router(tickets.dispatcher, tickets.desk_view))
    app.include_router(visit_router(tickets.visits))
    app.include_router(
        open311_router(
            tickets.dispatcher,
            tickets.desk_view,
            tickets.atlas,
            jurisdiction=tickets.settings.open311_jurisdiction,
            locate_radius_m=tickets.settings.open311_locate_radius_m,
        )
    )
    app.include_router(mediation_api.dispute_router(tickets.desk))
    app.include_router(territory_api.territory_router(tickets.atlas, tickets.store.commands))
    app.include_router(page_router(tickets.wishes, tickets.view))
    app.include_router(signin_router(tickets.settings.auth, tickets.settings.page_sites))

    app.include_router(relay_router(tickets.relay))
    app.include_router(parked_router(
        tickets.parking, lambda parked_id: retry_parked(tickets.database, (tickets.units,),
                                                        parked_id), service="tickets",
    ))  # fmt: skip

    return app
