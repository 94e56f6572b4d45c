"""Time-boxed throughput: N threads repeat one step until a shared deadline."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

Step = Callable[[], object]


@dataclass(frozen=True)
class Rate:
    operations: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0


def measure(clients: int, step_for: Callable[[int], Step], seconds: float) -> Rate:
    """Each client runs its own step until the deadline; an in-flight step is allowed to finish.

    The rate divides completed operations by the time until the last client stopped, so the
    tail of slow in-flight operations is charged, not hidden.
    """
    steps = [step_for(number) for number in range(clients)]
    clock: dict[str, float] = {}

    def start() -> None:
        clock["start"] = time.perf_counter()

    barrier = threading.Barrier(clients, action=start)

    def run(step: Step) -> tuple[int, float]:
        barrier.wait()
        deadline = clock["start"] + seconds
        done = 0
        while time.perf_counter() < deadline:
            step()
            done += 1
        return done, time.perf_counter()

    with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="bench") as pool:
        results = [future.result() for future in [pool.submit(run, s) for s in steps]]
    return Rate(
        operations=sum(done for done, _ in results),
        seconds=max(end for _, end in results) - clock["start"],
    )


@dataclass(frozen=True)
class Bracketed:
    """A path measured in rounds, each round between two raw-baseline measurements.

    Interleaving short slices lets each ratio see the same weather as its baseline; the
    median ratio over rounds is the figure, the min–max its spread.
    """

    path: tuple[Rate, ...]
    raw: tuple[Rate, ...]

    @property
    def path_rate(self) -> float:
        return _pooled(self.path)

    @property
    def raw_rate(self) -> float:
        return _pooled(self.raw)

    @property
    def ratios(self) -> list[float]:
        return [
            rate.per_second / ((before.per_second + after.per_second) / 2)
            for rate, before, after in zip(self.path, self.raw, self.raw[1:], strict=False)
        ]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def _pooled(rates: tuple[Rate, ...]) -> float:
    return sum(r.operations for r in rates) / sum(r.seconds for r in rates)


def bracket(rounds: int, raw: Callable[[], Rate], path: Callable[[], Rate]) -> Bracketed:
    """raw, path, raw, path, …, raw: `rounds` path slices and `rounds + 1` baseline slices."""
    raws, paths = [raw()], []
    for _ in range(rounds):
        paths.append(path())
        raws.append(raw())
    return Bracketed(path=tuple(paths), raw=tuple(raws))
