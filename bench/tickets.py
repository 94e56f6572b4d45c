"""Benchmark of ticket dispatch and the deadline scheduler: `python -m bench.tickets [--quick]`.

1. Ticket commands (receive → triage → dispatch → accept) through `Dispatcher`, 1 and 8
   threads, interleaved with raw commits of the same kind of store.
2. The deadline scheduler over 100,000 open deadlines: the view's catch-up beside raw reads of
   the notification log, a sweep when nothing is due, a sweep when 1,000 warnings are due, and
   the process's memory while it holds them.

SQLite always; PostgreSQL (127.0.0.1:5432, database `test`, user `postgres`) when reachable,
each in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from eventsourcing.persistence import ApplicationRecorder
from rich.console import Console
from rich.table import Table

from bench.commands import Phase, open_raw_commits, raw_step
from bench.report import Machine, replace_section
from bench.timing import Bracketed, Rate, Step, bracket, measure
from bench.wishes import pg_reachable, pg_schema, pg_store
from events.tickets import Channel, HandlerKind
from services.runtime.commands import Caller
from services.runtime.database import Database
from services.runtime.place import Place, Stamp
from services.runtime.publishing import EventIds
from services.runtime.settings import StoreSettings
from services.runtime.territory_plan import BuildingPlan
from services.tickets.main import open_tickets_store
from services.tickets.publishing import translator
from services.tickets.routing import DEFAULT_RULES, RulebookFile
from services.tickets.ticketing.application import Dispatcher
from services.tickets.ticketing.domain import Ticket
from services.tickets.ticketing.publishing import TICKETS, VISITS
from services.tickets.ticketing.scheduler import DeadlineScheduler
from services.tickets.ticketing.view import TicketDeskView
from services.tickets.wishes.publishing import WISHES
from shiliu.demo import district_plan

OUTPUT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
SECTION = "tickets"
CLIENTS = (1, 8)
COMMANDS_PER_TICKET = 4
CATEGORY = "flying_wire_charging"
"""Grid level; accept within 1 h, resolve within 24 h, warned at 80 %."""
TITLE = "楼道飞线充电"
STAFF = Caller(actor_id="gw-1", role="grid_worker")
READ_BATCH = 500
"""The view's batch size (`LogFollower.batch_size`), used for the raw reads too."""
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
"""When the scheduler's first tickets are accepted (the rest a day later)."""
LATER = timedelta(days=1)
IDLE_AT = T0 + timedelta(hours=1)
"""Nothing is due: the earliest warning is at T0 + 19.2 h."""
DUE_AT = T0 + timedelta(hours=20)
"""The first tickets' warnings (T0 + 19.2 h) are due, their breaches (T0 + 24 h) not yet."""
Note = Callable[[str], None]
Where = tuple[str, str, str, str]
"""street, community, grid, building"""


@dataclass(frozen=True)
class Plan:
    phase: Phase
    deadlines: int
    due: int
    save_batch: int
    """Tickets (four events each) per `app.save(...)` in the scheduler's set-up."""
    idle_sweeps: int


FULL = Plan(
    Phase(seconds=2.5, warmup=1.0, rounds=4),
    deadlines=100_000,
    due=1_000,
    save_batch=250,
    idle_sweeps=25,
)
QUICK = Plan(
    Phase(seconds=0.8, warmup=0.3, rounds=3),
    deadlines=5_000,
    due=1_000,
    save_batch=250,
    idle_sweeps=10,
)


class Clock:
    """The board's clock: real time for dispatch, set by hand for the scheduler."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now if self.now is not None else datetime.now(UTC)


def _code(building: str | BuildingPlan) -> str:
    return building if isinstance(building, str) else building.code


@functools.cache
def places() -> list[Where]:
    """Every grid of the demo district, with its first building."""
    return [
        (street.code, community.code, grid.code, _code(grid.buildings[0]))
        for street in district_plan().streets
        for community in street.communities
        for grid in community.grids
        if grid.buildings
    ]


class Desk:
    """What `services.tickets.main.Tickets` wires for tickets, without HTTP, vault or relay."""

    def __init__(self, store: StoreSettings, clock: Clock) -> None:
        self.clock = clock
        self.board = open_tickets_store(store, clock=clock)
        self.atlas = self.board.atlas
        plan = district_plan()
        self.atlas.import_plan(plan)
        self.atlas.publish_rules(plan.code, RulebookFile.load(DEFAULT_RULES))
        self.district = plan.code
        self.dispatcher = Dispatcher(self.board.commands, self.atlas)
        self.database = Database(getattr(self.board.recorder, "datastore"))  # noqa: B009
        self.view = TicketDeskView(
            database=self.database,
            recorder=self.board.recorder,
            translate=translator(self.board.mapper, EventIds(bytes(32)), (WISHES, TICKETS, VISITS)),
        )
        self.view.create_tables()
        self.scheduler = DeadlineScheduler(
            self.view,
            {"ticket": lambda caller, ticket_id: self.dispatcher.watch(caller, ticket_id).recorded},
            every_seconds=15,
            workers=self.view.workers,
        )

    def place(self, where: Where) -> Place:
        street, community, grid, _ = where
        return Place(self.district, street, community, grid)

    def close(self) -> None:
        self.board.close()


# 1. Dispatch throughput


def ticket_commands(dispatcher: Dispatcher, district: str, number: int) -> Iterator[None]:
    """One client's own tickets, forever: receive, triage, dispatch, accept (one event each)."""
    street, community, grid, building = places()[number * 37 % len(places())]
    handler = f"unit-{number}"
    unit = Caller(actor_id=f"{handler}-staff", role="unit_staff")
    while True:
        outcome = dispatcher.receive(
            STAFF,
            place=Place(district, street, community, grid),
            channel=Channel.GRID_PATROL,
            proactive=True,
            requester_id=None,
            title=TITLE,
            building=building,
        )
        ticket_id = outcome.ticket.id
        yield
        dispatcher.triage(STAFF, ticket_id, category=CATEGORY, grid=None)
        yield
        dispatcher.dispatch(STAFF, ticket_id, handler_id=handler, handler_kind=HandlerKind.UNIT)
        yield
        dispatcher.accept(unit, ticket_id, handler)
        yield


def dispatch_step(desk: Desk) -> Callable[[int], Step]:
    def step_for(number: int) -> Step:
        return functools.partial(next, ticket_commands(desk.dispatcher, desk.district, number))

    return step_for


@dataclass(frozen=True)
class DispatchRow:
    store: str
    clients: int
    result: Bracketed
    """Commands/s (one event each) against raw commits/s."""


def dispatch_rows(
    label: str, store: StoreSettings, raw_store: StoreSettings, phase: Phase, note: Note
) -> list[DispatchRow]:
    desk = Desk(store, Clock())
    raw = open_raw_commits(raw_store)
    rows = []
    try:
        for clients in CLIENTS:
            note(f"{label} ×{clients}: ticket commands interleaved with raw commits")
            commands, commits = dispatch_step(desk), raw_step(raw.recorder)
            measure(clients, commits, phase.warmup)
            measure(clients, commands, phase.warmup)
            result = bracket(
                phase.rounds,
                raw=functools.partial(measure, clients, commits, phase.seconds),
                path=functools.partial(measure, clients, commands, phase.seconds),
            )
            rows.append(DispatchRow(label, clients, result))
    finally:
        desk.close()
        raw.close()
    return rows


# 2. The scheduler


def fill(desk: Desk, count: int, due: int, save_batch: int, note: Note) -> Rate:
    """`count` accepted tickets (four events each), `save_batch` per transaction; the first
    `due` accepted at T0, the rest a day later."""
    rules = desk.atlas.rulebook(desk.district).in_effect(T0)
    rule = rules.rule(CATEGORY)
    all_places = places()
    batch: list[Ticket] = []
    started = time.perf_counter()
    for number in range(count):
        where = all_places[number % len(all_places)]
        place = desk.place(where)
        accepted_at = T0 if number < due else T0 + LATER
        received = _stamp(place, "gw-1", "grid_worker", accepted_at - timedelta(minutes=10))
        ticket = Ticket.receive(
            stamp=received,
            channel=Channel.GRID_PATROL,
            proactive=True,
            requester_id=None,
            title=TITLE,
            category=None,
            building=where[3],
        )
        ticket.triage(
            category=CATEGORY, grid=where[2], rule=rule, version=rules.version, stamp=received
        )
        handler = f"unit-{number % 500}"
        ticket.dispatch(handler_kind=HandlerKind.UNIT, handler_id=handler, stamp=received)
        ticket.accept(handler, _stamp(place, f"{handler}-staff", "unit_staff", accepted_at))
        batch.append(ticket)
        if len(batch) == save_batch:
            desk.board.save(*batch)
            batch.clear()
            if (number + 1) % 20_000 == 0:
                note(f"set-up: {number + 1:,} of {count:,} tickets saved")
    if batch:
        desk.board.save(*batch)
    return Rate(count * COMMANDS_PER_TICKET, time.perf_counter() - started)


def _stamp(place: Place, actor_id: str, role: str, at: datetime) -> Stamp:
    return Stamp(
        place=place, actor_id=actor_id, actor_role=role, occurred_at=at, correlation_id=uuid4()
    )


def read_log(recorder: ApplicationRecorder) -> Rate:
    """Raw: page through the whole notification log as the view does, doing nothing more."""
    started, read, start = time.perf_counter(), 0, 1
    while batch := recorder.select_notifications(start, READ_BATCH):
        read += len(batch)
        start = batch[-1].id + 1
    return Rate(read, time.perf_counter() - started)


def catch_up(view: TicketDeskView) -> Rate:
    before = asyncio.run(view.position())
    started = time.perf_counter()
    asyncio.run(view.run_once())
    seconds = time.perf_counter() - started
    return Rate(asyncio.run(view.position()) - before, seconds)


@dataclass(frozen=True)
class Timed:
    seconds: float
    cpu: float


def timed(function: Callable[[], Any]) -> tuple[Any, Timed]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, Timed(time.perf_counter() - wall, time.process_time() - cpu)


@dataclass(frozen=True)
class Memory:
    """KiB; `peak` is the process's high-water mark since the phase began, when the kernel
    lets it be reset (`/proc/self/clear_refs`), else since the process began."""

    before: int
    holding: int
    peak: int
    peak_reset: bool
    idle_sweep_alloc_peak: int
    """tracemalloc peak of one idle sweep, bytes."""
    due_read_alloc_peak: int
    """tracemalloc peak of one `view.due(now)` returning a batch of due watches, bytes."""


@dataclass(frozen=True)
class DueSweep:
    """One sweep that found work, and the view's catch-up on what it recorded."""

    timing: Timed
    recorded: dict[str, int]
    catch_up: Timed


@dataclass(frozen=True)
class SchedulerRow:
    store: str
    deadlines: int
    fill: Rate
    catch_up: Bracketed
    """The view's catch-up (notifications/s) between two raw reads of the whole log."""
    watched: int
    idle: list[Timed]
    due_sweeps: list[DueSweep]
    final_sweep: Timed
    memory: Memory
    plan: list[str]
    store_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def recorded(self) -> int:
        return sum(sum(s.recorded.values()) for s in self.due_sweeps)

    @property
    def sweep_seconds(self) -> float:
        return sum(s.timing.seconds for s in self.due_sweeps)


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="utf-8")
    except OSError:
        return False
    return True


def _alloc_peak(function: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def query_plan(desk: Desk) -> list[str]:
    """The store's plan for the scheduler's question (`TicketDeskView.due`)."""
    explain = "EXPLAIN" if desk.database.is_postgres else "EXPLAIN QUERY PLAN"
    with desk.database.transaction(commit=False) as tx:
        tx.execute(
            f"{explain} SELECT aggregate_id, kind FROM {{t:deadline_watch}} WHERE next_at <= ? "
            "ORDER BY next_at LIMIT ?",
            (IDLE_AT.isoformat(), 500),
        )
        return [str(list(dict(row).values())[-1]).strip() for row in tx.fetchall()]


def scheduler_row(label: str, store: StoreSettings, plan: Plan, note: Note) -> SchedulerRow:
    gc.collect()
    peak_reset = _reset_peak()
    rss_before = _status_kib("VmRSS")
    clock = Clock(T0)
    desk = Desk(store, clock)
    try:
        note(f"{label}: set-up of {plan.deadlines:,} accepted tickets")
        filled = fill(desk, plan.deadlines, plan.due, plan.save_batch, note)
        note(f"{label}: raw log read, the view's catch-up, raw log read")
        raws = [read_log(desk.board.recorder)]
        caught_up = catch_up(desk.view)
        raws.append(read_log(desk.board.recorder))
        watched = desk.view.watched()
        if watched != plan.deadlines:
            msg = f"{label}: the view watches {watched:,} deadlines, not {plan.deadlines:,}"
            raise RuntimeError(msg)
        gc.collect()
        rss_holding = _status_kib("VmRSS")
        peak = _status_kib("VmHWM")

        note(f"{label}: sweeps with nothing due")
        clock.now = IDLE_AT
        idle: list[Timed] = []
        for _ in range(plan.idle_sweeps):
            counts, timing = timed(lambda: desk.scheduler.sweep_once(IDLE_AT))
            if counts:
                msg = f"{label}: an idle sweep recorded {counts}"
                raise RuntimeError(msg)
            idle.append(timing)
        idle_alloc = _alloc_peak(lambda: desk.scheduler.sweep_once(IDLE_AT))
        due_alloc = _alloc_peak(lambda: desk.view.due(DUE_AT))
        explained = query_plan(desk)

        note(f"{label}: sweeps with {plan.due:,} warnings due")
        clock.now = DUE_AT
        sweeps: list[DueSweep] = []
        while True:
            counts, timing = timed(lambda: desk.scheduler.sweep_once(DUE_AT))
            if not counts:
                final = timing
                break
            _, view_timing = timed(lambda: asyncio.run(desk.view.run_once()))
            sweeps.append(DueSweep(timing, counts, view_timing))
            if len(sweeps) > plan.due:
                msg = f"{label}: the due sweeps do not converge"
                raise RuntimeError(msg)
        row = SchedulerRow(
            store=label,
            deadlines=plan.deadlines,
            fill=filled,
            catch_up=Bracketed(path=(caught_up,), raw=tuple(raws)),
            watched=watched,
            idle=idle,
            due_sweeps=sweeps,
            final_sweep=final,
            memory=Memory(
                before=rss_before,
                holding=rss_holding,
                peak=peak,
                peak_reset=peak_reset,
                idle_sweep_alloc_peak=idle_alloc,
                due_read_alloc_peak=due_alloc,
            ),
            plan=explained,
            store_bytes=_sqlite_bytes(store),
        )
        if row.recorded != plan.due:
            msg = f"{label}: {row.recorded:,} warnings recorded, not {plan.due:,}"
            raise RuntimeError(msg)
        return row
    finally:
        desk.close()


def _sqlite_bytes(store: StoreSettings) -> int | None:
    if store.kind.value != "sqlite":
        return None
    files = [store.sqlite_path, *(Path(f"{store.sqlite_path}{s}") for s in ("-wal", "-shm"))]
    return sum(f.stat().st_size for f in files if f.exists())


# The run and its report


@dataclass(frozen=True)
class TicketRun:
    command: str
    machine: Machine
    seconds: float
    dispatch: list[DispatchRow]
    scheduler: list[SchedulerRow]
    with_pg: bool
    plan: Plan


def run(plan: Plan, command: str, console: Console) -> TicketRun:
    with_pg = pg_reachable()
    if not with_pg:
        console.print("[yellow]PostgreSQL unreachable on 127.0.0.1:5432: skipping its rows.")
    started = time.perf_counter()

    def note(text: str) -> None:
        console.log(text)

    dispatch: list[DispatchRow] = []
    scheduler: list[SchedulerRow] = []
    with tempfile.TemporaryDirectory(prefix="shiliu-bench-tickets-") as tmp:
        workdir = Path(tmp)
        dispatch += dispatch_rows(
            "SQLite",
            StoreSettings(sqlite_path=workdir / "tickets.sqlite"),
            StoreSettings(sqlite_path=workdir / "raw.sqlite"),
            plan.phase,
            note,
        )
        scheduler.append(
            scheduler_row(
                "SQLite", StoreSettings(sqlite_path=workdir / "deadlines.sqlite"), plan, note
            )
        )
    if with_pg:
        with pg_schema() as schema:
            store = pg_store(schema)  # tables `tickets_events` and `rawcommits_events`
            dispatch += dispatch_rows("PostgreSQL", store, store, plan.phase, note)
        with pg_schema() as schema:
            scheduler.append(scheduler_row("PostgreSQL", pg_store(schema), plan, note))
    return TicketRun(
        command=command,
        machine=Machine.here(),
        seconds=time.perf_counter() - started,
        dispatch=dispatch,
        scheduler=scheduler,
        with_pg=with_pg,
        plan=plan,
    )


DISPATCH_COLUMNS = (
    "Path",
    "Tickets/s",
    "Commands/s",
    "Raw commits/s",
    "Ratio",
    "Ratio min–max",
)
SCHEDULER_COLUMNS = (
    "Store",
    "Open deadlines",
    "Idle sweep ms",
    "Idle sweep CPU ms",
    "Due sweeps",
    "Warnings/s",
    "Catch-up events/s",
    "Raw reads/s",
    "Catch-up ratio",
    "RSS holding MiB",
)


def dispatch_cells(row: DispatchRow) -> list[str]:
    r = row.result
    return [
        f"{row.store} ×{row.clients}",
        f"{r.path_rate / COMMANDS_PER_TICKET:,.0f}",
        f"{r.path_rate:,.0f}",
        f"{r.raw_rate:,.0f}",
        f"{r.ratio:.2f}",
        f"{min(r.ratios):.2f}–{max(r.ratios):.2f}",
    ]


def _ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f}"


def scheduler_cells(row: SchedulerRow) -> list[str]:
    sweeps = row.due_sweeps
    return [
        row.store,
        f"{row.watched:,}",
        _ms([t.seconds for t in row.idle]),
        _ms([t.cpu for t in row.idle]),
        f"{len(sweeps)} × {max(sum(s.recorded.values()) for s in sweeps):,} "
        f"in {row.sweep_seconds:.2f} s",
        f"{row.recorded / row.sweep_seconds:,.0f}",
        f"{row.catch_up.path_rate:,.0f}",
        f"{row.catch_up.raw_rate:,.0f}",
        f"{row.catch_up.ratio:.3f}",
        f"{row.memory.holding / 1024:,.0f}",
    ]


def _markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(columns) - 1)) + "|",
        *("| " + " | ".join(cells) + " |" for cells in rows),
    ]


def _rich_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title)
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for cells in rows:
        table.add_row(*cells)
    return table


def rich_tables(result: TicketRun) -> list[Table]:
    return [
        _rich_table(
            "Ticket commands vs raw commits (same run)",
            DISPATCH_COLUMNS,
            [dispatch_cells(r) for r in result.dispatch],
        ),
        _rich_table(
            "Deadline scheduler", SCHEDULER_COLUMNS, [scheduler_cells(r) for r in result.scheduler]
        ),
    ]


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} MiB"


def scheduler_details(row: SchedulerRow) -> list[str]:
    m = row.memory
    sweeps = row.due_sweeps
    idle_wall = [t.seconds * 1000 for t in row.idle]
    return [
        f"- **{row.store}**: set-up saved {row.fill.operations:,} events in "
        f"{row.fill.seconds:.0f} s ({row.fill.per_second:,.0f} events/s). The view caught up "
        f"on {row.catch_up.path[0].operations:,} notifications in "
        f"{row.catch_up.path[0].seconds:.1f} s; raw reads of the whole log took "
        + " and ".join(f"{r.seconds:.1f} s" for r in row.catch_up.raw)
        + ". Idle sweep: median "
        f"{statistics.median(idle_wall):.2f} ms, min–max {min(idle_wall):.2f}–"
        f"{max(idle_wall):.2f} ms over {len(row.idle)} sweeps. Due sweeps: "
        + ", ".join(
            f"{sum(s.recorded.values()):,} warnings in {s.timing.seconds:.2f} s "
            f"(CPU {s.timing.cpu:.2f} s; view catch-up after it {s.catch_up.seconds:.2f} s)"
            for s in sweeps
        )
        + f", then a sweep finding nothing in {row.final_sweep.seconds * 1000:.2f} ms. "
        f"Memory: RSS {_kib(m.before)} before the set-up, {_kib(m.holding)} holding "
        f"{row.watched:,} open deadlines after the catch-up, peak {_kib(m.peak)} "
        + ("during set-up and catch-up" if m.peak_reset else "since the process began")
        + f"; tracemalloc peak {m.idle_sweep_alloc_peak / 1024:,.1f} KiB for an idle sweep, "
        f"{m.due_read_alloc_peak / 1024:,.0f} KiB for one `due(now)` returning 500 watches."
        + (
            f" Store on disk: {row.store_bytes / 2**20:,.0f} MiB."
            if row.store_bytes is not None
            else ""
        ),
        f"- {row.store} plan of the due query: "
        + "; ".join(f"`{line}`" for line in row.plan)
        + ".",
    ]


def notes(result: TicketRun) -> list[str]:
    plan = result.plan
    phase = plan.phase
    lines = [
        f"- **Ticket commands**: each client (a thread) repeats `receive` → `triage` → "
        f"`dispatch` → `accept` on its own tickets through `Dispatcher` (no HTTP, no vault, "
        f"no idempotency key; territory from `shiliu.demo.district_plan()`, rules from "
        f"`DEFAULT_RULES`, category `{CATEGORY}`, one grid per client). Each command saves "
        "one event; `receive` and `triage` also check the cached territory and rulebook (one "
        "`select_events` each to see they are current), and the last three load the ticket "
        "under `Commands`' 64 striped locks. Tickets/s = commands/s ÷ 4; the ratio is "
        "commands/s ÷ raw commits/s, as for the wish path.",
        f"- Each dispatch row interleaves {phase.rounds} path slices with {phase.rounds + 1} "
        f"raw slices of {phase.seconds:g} s after a {phase.warmup:g} s warm-up of each. "
        "**Raw commits**: `recorder.insert_events` of one trivial `StoredEvent` per "
        "transaction, as in the wish path (bench/commands.py `raw_step`): SQLite another file "
        "in WAL mode, PostgreSQL another table in the same schema.",
        f"- **Scheduler**: {plan.deadlines:,} accepted tickets ({CATEGORY}: resolve within "
        "24 h, warned at 80 %) are built as aggregates and saved "
        f"{plan.save_batch} tickets ({COMMANDS_PER_TICKET * plan.save_batch:,} events) per "
        f"`app.save(...)`; the first {plan.due:,} accepted at {T0:%Y-%m-%d %H:%M} UTC, the "
        "rest a day later. `TicketDeskView.run_once()` then builds a ticket row and a watch "
        "row per ticket (**catch-up**: notifications/s, bracketed by two **raw reads** of the "
        f"whole log with `recorder.select_notifications(start, {READ_BATCH})`, the view's own "
        "batch size; the ratio is catch-up ÷ mean of the two). **Idle sweep**: "
        f"`DeadlineScheduler.sweep_once(now)` at T0 + 1 h, nothing due, repeated "
        f"{plan.idle_sweeps} times (wall and `time.process_time`, medians). **Due sweeps**: "
        f"at T0 + 20 h, {plan.due:,} warnings are due; each sweep asks `view.due(now, after)` "
        "page by page (500 a page) and runs `Dispatcher.watch` per ticket (a load and one saved "
        "`TicketDeadlineWarned` each); the view catches up between sweeps (timed apart), "
        "until a sweep finds nothing. Warnings/s = warnings ÷ the due sweeps' time.",
        "- **Memory**: VmRSS from `/proc/self/status` (the deadlines live in the store, not "
        "in the process; RSS includes SQLite's page cache and the demo territory, 2,024 "
        "grids, loaded by `Atlas`); the peak is VmHWM (the counter behind `ru_maxrss`), "
        "reset at the start of each store's scheduler phase.",
    ]
    for row in result.scheduler:
        lines += scheduler_details(row)
    if not result.with_pg:
        lines.append(
            "- PostgreSQL rows **skipped**: no server reachable on 127.0.0.1:5432 (database "
            "`test`, user `postgres`)."
        )
    return lines


def markdown(result: TicketRun) -> str:
    lines = [
        "## Ticket dispatch and the deadline scheduler",
        "",
        f"Measured {result.machine.date} on {result.machine.describe()}; "
        f"the run took {result.seconds:.0f} s. Produced by:",
        "",
        "```sh",
        result.command,
        "```",
        "",
        *_markdown_table(DISPATCH_COLUMNS, [dispatch_cells(r) for r in result.dispatch]),
        "",
        *_markdown_table(SCHEDULER_COLUMNS, [scheduler_cells(r) for r in result.scheduler]),
        "",
        *notes(result),
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tickets", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help=f"short slices, {QUICK.deadlines:,} deadlines"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the BENCHMARKS.md to update")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    console = Console()
    command = ".venv/bin/python -m bench.tickets" + (" --quick" if args.quick else "")
    result = run(plan, command, console)
    for table in rich_tables(result):
        console.print(table, width=max(console.width, 180))
    replace_section(args.output, SECTION, markdown(result), result.machine)
    console.print(f"run time {result.seconds:.0f} s; wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
