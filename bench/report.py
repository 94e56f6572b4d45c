"""The results as a Rich table for the terminal and a Markdown section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from bench.commands import CommandRow
from bench.relay import RelayRow
from bench.timing import Bracketed

START = "<!-- bench:wishes:start -->"
END = "<!-- bench:wishes:end -->"

HEADER = """# Benchmarks

Each benchmark measures a Shiliu path and, in the same run on the same store or server, a raw
baseline of the layer beneath it; it reports both and their ratio. The machine is shared and
noisy, so **ratios matter, absolute numbers are noisy**: compare ratios across runs, and treat
absolute rates as this run's weather. Path and baseline are measured in interleaved slices
(raw, path, raw, path, …, raw); each path slice is divided by the mean of the two baseline
slices around it, and the median of those ratios is reported with its min–max.

File created on {date} on a machine with {machine}.
"""


@dataclass(frozen=True)
class Machine:
    nproc: int
    cpu: str
    python: str
    date: str

    @classmethod
    def here(cls) -> Machine:
        return cls(
            nproc=len(os.sched_getaffinity(0)),
            cpu=_cpu_model(),
            python=platform.python_version(),
            date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )

    def describe(self) -> str:
        return f"nproc {self.nproc} ({self.cpu}), Python {self.python}"


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


@dataclass(frozen=True)
class Run:
    command: str
    machine: Machine
    seconds: float
    commands: Sequence[CommandRow]
    relay: RelayRow
    notes: Sequence[str]


def _cells(path: str, result: Bracketed) -> list[str]:
    ratios = result.ratios
    return [
        path,
        f"{result.path_rate:,.0f}",
        f"{result.raw_rate:,.0f}",
        f"{result.ratio:.2f}",
        f"{min(ratios):.2f}–{max(ratios):.2f}",
    ]


def command_cells(row: CommandRow) -> list[str]:
    return _cells(f"{row.store} ×{row.clients}", row.result)


def relay_cells(row: RelayRow) -> list[str]:
    return _cells(f"relay ({row.events:,} × {row.payload_bytes:,.0f} B)", row.result)


COLUMNS = ("Path", "Rate/s", "Raw/s", "Ratio", "Ratio min–max")


def rich_table(run: Run) -> Table:
    table = Table(title="Wish path vs raw baselines (same run)")
    for index, column in enumerate(COLUMNS):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in run.commands:
        table.add_row(*command_cells(row))
    table.add_row(*relay_cells(run.relay))
    return table


def markdown(run: Run) -> str:
    rows = [command_cells(row) for row in run.commands] + [relay_cells(run.relay)]
    lines = [
        "## Wish path",
        "",
        f"Measured {run.machine.date} on {run.machine.describe()}; "
        f"the run took {run.seconds:.0f} s. Produced by:",
        "",
        "```sh",
        run.command,
        "```",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
        *("| " + " | ".join(cells) + " |" for cells in rows),
        "",
        *run.notes,
    ]
    return "\n".join(lines).rstrip() + "\n"


def write_section(path: Path, run: Run) -> None:
    """Replace the wish path's delimited section (or append it)."""
    replace_section(path, "wishes", markdown(run), run.machine)


def replace_section(path: Path, name: str, body: str, machine: Machine) -> None:
    """Replace what lies between `<!-- bench:{name}:start -->` and its end marker (or append
    the section), creating the file with its header; the rest of the file is kept."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    if path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        text = HEADER.format(date=machine.date, machine=machine.describe())
    section = f"{start}\n{body}{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
