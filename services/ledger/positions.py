"""Applying events once: each source position is saved in the transaction that applied it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from events.envelope import IntegrationEvent
from services.runtime.database import Cursor
from services.runtime.positions import PositionStore

E = TypeVar("E", bound=IntegrationEvent)


def apply_new(
    tx: Cursor,
    events: Sequence[E],
    key: Callable[[E], str],
    apply: Callable[[Cursor, E], None],
) -> int:
    """Apply what lies past its key's saved position; save the positions; count the applied."""
    applied = 0
    seen: dict[str, int] = {}
    for event in events:
        name = key(event)
        if name not in seen:
            seen[name] = PositionStore.load_in(tx, name)
        if event.position <= seen[name]:
            continue
        apply(tx, event)
        seen[name] = event.position
        applied += 1
    for name, position in seen.items():
        PositionStore.save_in(tx, name, position)
    return applied
