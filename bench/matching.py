"""Matching: the time to propose for one new wish against 10,000 listings, and proposals
sustained per second, each beside a raw baseline measured in the same run: the same candidate
query straight on the store (no ranking, no proposals saved).

Run: `.venv/bin/python -m bench.matching` (`--quick` for a short run); it rewrites its
section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from rich.console import Console
from rich.table import Table

from bench.report import Machine, replace_section
from bench.timing import Bracketed, bracket, measure
from events.envelope import Actor, Role, Territory
from events.listings import ListingTerms, Reach, Side
from events.taxonomy import ServiceCategory
from events.units import UnitKind
from events.wishes import WishPosted, WishVerified
from services.matching.main import Matching, MatchingSettings
from services.runtime.commands import Caller
from services.runtime.intake import Delivery
from services.runtime.outbox import encode
from services.runtime.settings import BusSettings, StoreSettings
from shiliu.demo import communities, district_plan

SECTION = "matching"
OUTPUT = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
STAFF = Caller(actor_id="bench-staff", role=Role.COMMUNITY_STAFF.value)


@dataclass(frozen=True)
class Plan:
    listings: int
    units: int
    rounds: int
    seconds: float


FULL = Plan(listings=10_000, units=500, rounds=4, seconds=3.0)
QUICK = Plan(listings=2_000, units=100, rounds=2, seconds=1.0)


@dataclass(frozen=True)
class Row:
    path: str
    result: Bracketed
    candidates: int


def _matching(workdir: Path) -> Matching:
    territory = workdir / "jinfeng.json"
    territory.write_text(district_plan().model_dump_json(), encoding="utf-8")
    settings = MatchingSettings(
        store=StoreSettings(sqlite_path=workdir / "matching.sqlite"),
        bus=BusSettings(url="nats://127.0.0.1:1"), relay_enabled=False,
        master_key=base64.b64encode(os.urandom(32)).decode(), territory_files=[territory],
    )  # fmt: skip
    return Matching(settings).open()


def fill(matching: Matching, plan: Plan, note: Callable[[str], None]) -> None:
    """Units across the district's communities, and their offers over every category."""
    places = communities()
    categories = list(ServiceCategory)
    for number in range(plan.units):
        community = places[number % len(places)]
        place = matching.places.locate("jinfeng", community.code, "g01")
        unit_id = f"unit-{number}"
        matching.registry.register(STAFF, place=place, unit_id=unit_id, name=f"单位{number}",
                                   kind=UnitKind.COMPANY, contact=None)  # fmt: skip
        matching.registry.join_alliance(STAFF, unit_id)
    note(f"{plan.units} units registered")
    for number in range(plan.listings):
        terms = ListingTerms(category=categories[number % len(categories)],
                             title=f"服务{number}", capacity=50, reach=Reach.DISTRICT)  # fmt: skip
        matching.lists.publish(STAFF, side=Side.OFFER, unit_id=f"unit-{number % plan.units}",
                               place=None, terms=terms)  # fmt: skip
    asyncio.run(_catch_up(matching))
    note(f"{plan.listings:,} listings published and in the view")


async def _catch_up(matching: Matching) -> None:
    await matching.view.run_once()
    await matching.matches_view.run_once()


class Wishes:
    """New open wishes, as matching's wish consumer settles them."""

    def __init__(self, matching: Matching) -> None:
        self.matching = matching
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()
        """One consumer settles a feed, in order (threads racing here made gaps, and the
        wishes behind a gap never opened: an earlier run measured nothing)."""

    def _event(self, cls: type[WishPosted] | type[WishVerified], **fields: object) -> object:
        number = next(self.numbers)
        now = datetime.now(UTC)
        return cls.model_validate({
            "event_id": uuid4(), "occurred_at": now, "recorded_at": now,
            "territory": Territory(district="jinfeng", street="s01", community="c01", grid="g01"),
            "actor": Actor(id="staff-1", role=Role.COMMUNITY_STAFF), "source": "tickets",
            "position": number, "sequence": number, **fields,
        })  # fmt: skip

    def open_one(self) -> dict[str, Any]:
        """A new wish opened in matching's needs; its row, as the matchmaker reads it."""
        wish_id = uuid4()
        with self.lock:
            events = [
                self._event(WishPosted, wish_id=wish_id, resident_id="p-1", title="热饺子",
                            category="meal", claim_mode="exclusive", quota=1),
                self._event(WishVerified, wish_id=wish_id),
            ]  # fmt: skip
            intake = self.matching.needs[0].intake
            intake.settle([Delivery.replayed(e, encode(e)) for e in events])  # type: ignore[arg-type]
        with self.matching.database.transaction(commit=False) as tx:
            tx.execute("SELECT * FROM {t:needs} WHERE need_kind = 'wish' AND need_id = ?",
                       (str(wish_id),))  # fmt: skip
            row = tx.fetchone()
        if row is None:
            msg = f"wish {wish_id} did not open in matching's needs"
            raise SystemExit(msg)
        return dict(row)


def rows(matching: Matching, plan: Plan, note: Callable[[str], None]) -> list[Row]:
    wishes = Wishes(matching)
    records = matching.matchmaker.records
    categories = (ServiceCategory.MEALS, ServiceCategory.VOLUNTEERS)
    found = len(records.candidates("jinfeng", categories, exclude_units=()))

    def raw_query() -> object:
        return records.candidates("jinfeng", categories, exclude_units=())

    def one_wish() -> object:
        return matching.matchmaker.propose(wishes.open_one())

    def raw() -> object:
        return measure(1, lambda _: raw_query, plan.seconds)

    def path() -> object:
        return measure(1, lambda _: one_wish, plan.seconds)

    note("time to propose for one new wish")
    single = bracket(plan.rounds, raw, path)  # type: ignore[arg-type]
    note("sustained proposals, 4 clients")

    def raw4() -> object:
        return measure(4, lambda _: raw_query, plan.seconds)

    def path4() -> object:
        return measure(4, lambda _: one_wish, plan.seconds)

    sustained = bracket(plan.rounds, raw4, path4)  # type: ignore[arg-type]
    _check_every_wish_proposed(matching)
    return [Row("one new wish ×1", single, found), Row("sustained ×4", sustained, found)]


def _check_every_wish_proposed(matching: Matching) -> None:
    """Every wish opened got its three proposals (none held back, none left waiting)."""
    with matching.database.transaction(commit=False) as tx:
        tx.execute("SELECT COUNT(*) AS n FROM {t:needs} WHERE proposed <> 1")
        row = tx.fetchone()
        tx.execute("SELECT COUNT(*) AS n FROM {t:needs}")
        total = tx.fetchone()
        tx.execute("SELECT COUNT(*) AS n FROM {t:match_board}")
    left = int(row["n"]) if row else -1
    opened = int(total["n"]) if total else 0
    if left:
        msg = f"{left} of {opened} wishes were not proposed for: the run measured nothing"
        raise SystemExit(msg)
    asyncio.run(_catch_up(matching))
    with matching.database.transaction(commit=False) as tx:
        tx.execute("SELECT COUNT(*) AS n FROM {t:match_board}")
        made = tx.fetchone()
    if made is None or int(made["n"]) != 3 * opened:
        msg = f"{opened} wishes got {made['n'] if made else 0} proposals, not three each"
        raise SystemExit(msg)


COLUMNS = ("Path", "Wishes/s", "ms per wish", "Raw queries/s", "Raw ms", "Ratio", "Ratio min–max")


def cells(row: Row) -> list[str]:
    r = row.result
    ratios = r.ratios
    return [
        row.path, f"{r.path_rate:,.1f}", f"{1000 / r.path_rate:,.1f}", f"{r.raw_rate:,.1f}",
        f"{1000 / r.raw_rate:,.1f}", f"{r.ratio:.2f}", f"{min(ratios):.2f}–{max(ratios):.2f}",
    ]  # fmt: skip


def markdown(command: str, machine: Machine, seconds: float, plan: Plan, found: list[Row]) -> str:
    candidates = found[0].candidates if found else 0
    lines = [
        "## Matching: proposals against the lists",
        "",
        f"Measured {machine.date} on {machine.describe()}; the run took {seconds:.0f} s. "
        "Produced by:",
        "",
        "```sh",
        command,
        "```",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
        *("| " + " | ".join(cells(row)) + " |" for row in found),
        "",
        f"- The store (SQLite) holds {plan.units:,} member units and {plan.listings:,} listed "
        f"offers spread over the {len(ServiceCategory)} categories; a meal wish's candidate query "
        f"finds {candidates:,} offers (meals and volunteers, anywhere in the district).",
        "- **Path**: a new open wish is settled into matching's needs (posted and verified, as "
        "its consumer would), then the matchmaker reads the candidates, scores each (category, "
        "distance, capacity and availability, ratings, evaluation, fairness), ranks them and "
        "saves the three best proposals with their reasons in one transaction, marking the "
        "need proposed. ×4: four threads do so at once on one store (the needs are settled in "
        "order, as one consumer does). The run fails unless every wish it opened got its three "
        "proposals.",
        "- **Raw**: the same candidate query straight on the store (the SQL that joins the lists, "
        "the units and their records, fetched), with nothing scored or saved.",
        f"- Each row interleaves {plan.rounds} path slices with {plan.rounds + 1} raw slices of "
        f"{plan.seconds:g} s; ms per wish is 1000 ÷ the pooled rate.",
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer listings, short slices")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the BENCHMARKS.md to update")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    console = Console()
    command = ".venv/bin/python -m bench.matching" + (" --quick" if args.quick else "")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shiliu-bench-matching-") as tmp:
        matching = _matching(Path(tmp))
        try:
            fill(matching, plan, console.log)
            found = rows(matching, plan, console.log)
        finally:
            matching.close()
    seconds = time.perf_counter() - started
    table = Table(title="Matching vs the raw candidate query (same run)")
    for index, column in enumerate(COLUMNS):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in found:
        table.add_row(*cells(row))
    console.print(table)
    machine = Machine.here()
    replace_section(args.output, SECTION, markdown(command, machine, seconds, plan, found), machine)
    console.print(f"run time {seconds:.0f} s; wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
