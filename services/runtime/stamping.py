"""The runtime's command loop, stamping what the tickets service's commands record."""

from __future__ import annotations

from uuid import UUID, uuid4

from eventsourcing.application import Application

from services.runtime.commands import Caller, Commands
from services.runtime.personal import PersonalDataVault
from services.runtime.place import Clock, Place, Stamp


class StampedCommands(Commands):
    """`Commands` that also stamp: who decided, where, when, for whom."""

    def __init__(
        self, app: Application[UUID], clock: Clock, vault: PersonalDataVault | None = None
    ) -> None:
        super().__init__(app, vault)
        self.clock = clock

    def stamp(self, caller: Caller, place: Place, person_id: str | None) -> Stamp:
        """The caller's guard runs here: it refuses a place or person outside their scope."""
        on_behalf_of = caller.guard(place, person_id or "") if caller.guard else None
        return Stamp(
            place=place,
            actor_id=caller.actor_id,
            actor_role=caller.role,
            occurred_at=self.clock(),
            on_behalf_of=on_behalf_of or caller.on_behalf_of,
            correlation_id=caller.correlation_id or uuid4(),
        )
