"""What keeps a sweep fair: it walks every due item, page after page, and an item that fails
waits its own backoff, so one that fails for good never holds back those due after it.

Each pass asks the view for due items in order (time, then id) from where the last page ended,
until a page comes back short; a page is never the whole answer. An item whose handling fails
unexpectedly is logged and counted, then skipped for 1, 2, 4… passes (at most
`MAX_SKIPPED_PASSES`) before it is tried again; operators see the failing items and their last
errors in the tickets service's readiness body.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
PAGE_SIZE = 500
MAX_SKIPPED_PASSES = 64
Key = tuple[str, str]


def every_due(page: Callable[[Key | None], Sequence[T]], key: Callable[[T], Key]) -> Iterator[T]:
    """All that `page` has, one page after another: `page(after)` answers up to `PAGE_SIZE`
    items ordered by `key`, after `after` (None: from the start)."""
    after: Key | None = None
    while True:
        items = page(after)
        yield from items
        if len(items) < PAGE_SIZE:
            return
        after = key(items[-1])


@dataclass(frozen=True)
class _Failure:
    failures: int
    retry_at_pass: int
    last_error: str


class FailingItems:
    """The items a sweep failed to handle, each with its own backoff counted in passes."""

    def __init__(self) -> None:
        self.passes = 0
        self._items: dict[Hashable, _Failure] = {}
        self._seen: set[Hashable] = set()
        self._lock = threading.Lock()

    def start_pass(self) -> None:
        self.passes += 1
        self._seen = set()

    def is_due(self, item: Hashable) -> bool:
        """Whether to try `item` in this pass: not while it waits out its backoff."""
        self._seen.add(item)
        failure = self._items.get(item)
        return failure is None or failure.retry_at_pass <= self.passes

    def failed(self, item: Hashable, error: Exception) -> None:
        with self._lock:
            failures = self._items[item].failures + 1 if item in self._items else 1
            skipped = min(2 ** (failures - 1), MAX_SKIPPED_PASSES)
            self._items[item] = _Failure(failures, self.passes + skipped + 1, repr(error)[:300])

    def succeeded(self, item: Hashable) -> None:
        with self._lock:
            self._items.pop(item, None)

    def finish_pass(self) -> None:
        """Forget the items a whole pass no longer found due (handled elsewhere, or changed)."""
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if k in self._seen}

    def report(self, shown: int = 10) -> dict[str, Any]:
        with self._lock:
            items = list(self._items.items())
        worst = sorted(items, key=lambda kv: -kv[1].failures)[:shown]
        return {
            "failing": len(items),
            "items": [{"id": str(item), "failures": f.failures, "last_error": f.last_error}
                      for item, f in worst],
        }  # fmt: skip
