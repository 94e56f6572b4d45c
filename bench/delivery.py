"""The consuming side: the ledger's intake and gap repair by replay, beside raw baselines.

- Intake: `WishLedger.apply` (marks locked and moved, a savepoint per event, its id and
  content digest kept under its feed number, one transaction per batch of 100) against the
  same projection applied raw (the book's `apply_event` for each event, one transaction per
  batch, no marks, no savepoints), on the same kind of store.
- Replay: events fetched from the tickets service's outbox over the bus (request/reply pages of
  500, as a gap repair fetches them) against reading the same pages from the outbox directly.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.report import Machine, replace_section
from bench.timing import Bracketed, Rate
from events.envelope import Actor, Role, Territory
from events.wishes import ClaimMode, WishCategory, WishPosted
from services.ledger.books import Books
from services.runtime.database import Database, open_datastore
from services.runtime.nats_server import EmbeddedNats, free_port
from services.runtime.outbox import Outbox
from services.runtime.replay import ReplayClient, ReplayResponder
from services.runtime.settings import BusSettings, StoreSettings
from services.runtime.workers import StoreWorkers

OUTPUT = Path("BENCHMARKS.md")
BATCH = 100
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Plan:
    events_per_slice: int
    rounds: int


FULL = Plan(events_per_slice=3000, rounds=5)
QUICK = Plan(events_per_slice=800, rounds=3)


def events(start: int, count: int) -> list[WishPosted]:
    """Wish postings numbered `start`… in the `tickets.wish` feed."""
    return [
        WishPosted(
            event_id=uuid.uuid4(), occurred_at=T0 + timedelta(seconds=n),
            recorded_at=T0 + timedelta(seconds=n),
            territory=Territory(district="jinfeng", street="s01", community="c01"),
            actor=Actor(id="staff-1", role=Role.COMMUNITY_STAFF), source="tickets", position=n,
            sequence=n, wish_id=uuid.uuid4(), resident_id="p", title="饺子",
            category=WishCategory.MEAL, claim_mode=ClaimMode.EXCLUSIVE, quota=1,
        )
        for n in range(start, start + count)
    ]  # fmt: skip


def timed(work: Callable[[], int]) -> Rate:
    started = time.perf_counter()
    done = work()
    return Rate(done, time.perf_counter() - started)


def intake_row(workdir: Path, plan: Plan) -> Bracketed:
    path_books = Books(Database(open_datastore(StoreSettings(sqlite_path=workdir / "p.sqlite"))))
    raw_books = Books(Database(open_datastore(StoreSettings(sqlite_path=workdir / "r.sqlite"))))
    path_books.create_tables()
    raw_books.create_tables()
    counter = {"path": 1, "raw": 1}

    def through_intake() -> int:
        batch = events(counter["path"], plan.events_per_slice)
        counter["path"] += len(batch)
        return sum(
            path_books.wishes.apply(batch[i : i + BATCH]) for i in range(0, len(batch), BATCH)
        )

    def raw() -> int:
        batch = events(counter["raw"], plan.events_per_slice)
        counter["raw"] += len(batch)
        for i in range(0, len(batch), BATCH):
            with raw_books.database.transaction() as tx:
                for event in batch[i : i + BATCH]:
                    raw_books.wishes.apply_event(tx, event)
        return len(batch)

    through_intake(), raw()  # warm-up
    raws, paths = [timed(raw)], []
    for _ in range(plan.rounds):
        paths.append(timed(through_intake))
        raws.append(timed(raw))
    return Bracketed(path=tuple(paths), raw=tuple(raws))


async def replay_row(workdir: Path, plan: Plan) -> Bracketed:
    server = EmbeddedNats(workdir / "nats", port=free_port())
    server.start()
    database = Database(open_datastore(StoreSettings(sqlite_path=workdir / "tickets.sqlite")))
    outbox = Outbox(database, lambda _: None)
    outbox.create_tables()
    total = plan.events_per_slice
    with database.transaction() as tx:
        for event in events(1, total):
            outbox._insert(tx, event, {}, event.position)
        tx.execute("INSERT INTO {t:log_positions} (name, position) VALUES ('relay', ?)", (total,))
    workers = StoreWorkers("bench-replay")
    bus = BusSettings(url=server.url)
    responder = ReplayResponder(bus, "tickets", outbox.page, workers)
    await responder.start()
    client = ReplayClient(bus, "bench")

    async def over_the_bus() -> int:
        after = 0
        while after < total:
            _, payloads = await client.page("tickets.wish", after, 500)
            after += len(payloads)
        return after

    async def direct() -> int:
        after = 0
        while after < total:
            _, payloads = await workers.run(outbox.page, "tickets.wish", after, 500)
            after += len(payloads)
        return after

    async def timed_async(work: Callable[[], Awaitable[int]]) -> Rate:
        started = time.perf_counter()
        done = await work()
        return Rate(done, time.perf_counter() - started)

    try:
        await over_the_bus()
        raws, paths = [await timed_async(direct)], []
        for _ in range(plan.rounds):
            paths.append(await timed_async(over_the_bus))
            raws.append(await timed_async(direct))
        return Bracketed(path=tuple(paths), raw=tuple(raws))
    finally:
        await client.close()
        await responder.stop()
        await workers.drain()
        server.stop()


COLUMNS = ("Path", "Rate/s", "Raw/s", "Ratio", "Ratio min–max")


def cells(name: str, result: Bracketed) -> list[str]:
    ratios = result.ratios
    return [name, f"{result.path_rate:,.0f}", f"{result.raw_rate:,.0f}",
            f"{result.ratio:.2f}", f"{min(ratios):.2f}–{max(ratios):.2f}"]  # fmt: skip


def markdown(rows: Sequence[list[str]], machine: Machine, seconds: float, command: str) -> str:
    return "\n".join([
        "## Delivery: the ledger's intake and gap repair by replay",
        "",
        f"Measured {machine.date} on {machine.describe()}; the run took {seconds:.0f} s. "
        "Produced by:",
        "", "```sh", command, "```", "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "- **Intake** (SQLite): `WishLedger.apply` in batches of 100 — the feed's mark row locked "
        "and moved, a savepoint per event, its id and content digest kept under its number "
        "(conflict check), its "
        "aggregate checked against the parked holds — against the same projection applied raw, one "
        "transaction per batch of 100, no marks or savepoints. Each slice is fresh "
        "`WishPosted` events.",
        "- **Replay**: a gap repair's fetch — request/reply pages of 500 from the tickets "
        "outbox over a nats-server from the wheel, answered by `ReplayResponder` — against "
        "reading the same pages from the outbox in-process.",
    ]) + "\n"  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer events")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the BENCHMARKS.md to update")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    machine = Machine.here()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shiliu-bench-") as folder:
        workdir = Path(folder)
        rows = [cells("intake, SQLite", intake_row(workdir, plan)),
                cells("replay over the bus", asyncio.run(replay_row(workdir, plan)))]  # fmt: skip
    seconds = time.perf_counter() - started
    table = Table(title="Delivery vs raw baselines (same run)")
    for index, column in enumerate(COLUMNS):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    command = ".venv/bin/python -m bench.delivery" + (" --quick" if args.quick else "")
    replace_section(args.output, "delivery", markdown(rows, machine, seconds, command), machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
