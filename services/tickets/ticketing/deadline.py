"""A ticket's running deadline: what it waits for, until when, and what was recorded of it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from events.tickets import DeadlineKind, Level
from services.runtime.place import FieldsTranscoding


@dataclass(frozen=True)
class Deadline:
    """The step the ticket waits for now, due at a time, watched at a level of the ladder."""

    generation: int
    kind: str
    level: str
    due_at: datetime
    warn_at: datetime
    warned: bool = False
    breached: bool = False
    held_since: datetime | None = None

    @classmethod
    def starting(
        cls,
        generation: int,
        kind: DeadlineKind,
        level: Level,
        start: datetime,
        within: timedelta,
        warn_fraction: float,
    ) -> Deadline:
        return cls(
            generation, kind.value, level.value, start + within, start + within * warn_fraction
        )

    def moved(self, by: timedelta) -> Deadline:
        return replace(self, due_at=self.due_at + by, warn_at=self.warn_at + by, held_since=None)


DEADLINE = FieldsTranscoding(Deadline, "shiliu_deadline")
"""How a `Deadline` is stored in the tickets store's events."""
