"""Door-knocking visits (敲门行动, 民情日记): a grid worker's round of households, its notes
sealed and read only for a stated reason, each finding opening a proactive ticket."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from events.tickets import Channel
from services.runtime.commands import Caller, personal_digest
from services.runtime.personal import Disclosure, PersonalDataVault, Sealed
from services.runtime.place import Place
from services.runtime.stamping import StampedCommands
from services.tickets.atlas import Atlas
from services.tickets.ticketing.domain import Ticket
from services.tickets.ticketing.snapshots import VisitNotes, VisitOutcome
from services.tickets.ticketing.visits import Visit, VisitNotFoundError


class VisitDesk:
    """Records visits and reveals their notes."""

    def __init__(
        self, commands: StampedCommands, atlas: Atlas, vault: PersonalDataVault | None = None
    ) -> None:
        self.commands = commands
        self.atlas = atlas
        self.vault = vault

    def record_visit(
        self,
        caller: Caller,
        *,
        place: Place,
        building: str | None,
        households: int,
        household_ids: list[str],
        findings: list[tuple[str, str]],
        notes: dict[str, Any] | None = None,
    ) -> VisitOutcome:
        """Record a door-knocking visit; each finding (title, category) opens a proactive
        ticket in the same transaction."""
        territory = self.atlas.territory(place.district)
        territory.require_community(place.street, place.community)
        if building is not None:
            grid = territory.grid_of_building(place.community, building, place.grid)
            place = Place(place.district, place.street, place.community, grid)
        elif place.grid is not None:
            territory.require_grid(place.community, place.grid)
        rules = self.atlas.rulebook(place.district).in_effect(self.commands.clock())
        for _, category in findings:
            rules.rule(category)
        payload = {
            "place": place.__dict__,
            "building": building,
            "households": households,
            "household_ids": household_ids,
            "findings": findings,
            "notes": personal_digest(self.vault, notes),
        }

        def decide() -> tuple[list[Aggregate], VisitOutcome]:
            stamp = self.commands.stamp(caller, place, None)
            visit_id = uuid4()
            tickets = [
                Ticket.receive(
                    stamp=stamp,
                    channel=Channel.GRID_PATROL,
                    proactive=True,
                    requester_id=None,
                    title=title,
                    category=category,
                    building=building,
                    visit_id=visit_id,
                )
                for title, category in findings
            ]
            visit = Visit.record(
                visit_id=visit_id,
                stamp=stamp,
                building=building,
                households=households,
                household_ids=household_ids,
                opened_tickets=[t.id for t in tickets],
            )
            answer = VisitOutcome(visit_id=visit.id, opened_tickets=[t.id for t in tickets])
            return [visit, *tickets], answer

        def seal(outcome: VisitOutcome) -> list[Sealed]:
            record_id = f"visit:{outcome.visit_id}"
            holders = household_ids or [record_id]
            return [Sealed(h, record_id, "visit.notes", notes) for h in holders] if notes else []

        return self.commands.run(caller, "record_visit", payload, decide, VisitOutcome, seal=seal)

    def visit_notes(self, caller: Caller, visit_id: UUID, reason: str) -> VisitNotes:
        """A visit with its restricted notes: read for a reason, and every read is logged."""
        visit = self.commands.load(visit_id, Visit, VisitNotFoundError)
        if caller.guard is not None:
            caller.guard(visit.place, "")
        notes: dict[str, Any] | None = None
        for holder in visit.household_ids or [f"visit:{visit_id}"]:
            if self.vault is None or notes is not None:
                break
            disclosure = Disclosure(
                accessed_at=self.commands.clock(),
                actor_id=caller.actor_id,
                role=caller.role,
                person_id=holder,
                record_id=f"visit:{visit_id}",
                kind="visit.notes",
                reason=reason,
                **visit.place.__dict__,
            )
            notes = self.vault.reveal(holder, f"visit:{visit_id}", disclosure)
        return VisitNotes(
            visit_id=visit.id,
            district=visit.place.district,
            community=visit.place.community,
            grid=visit.place.grid,
            building=visit.building,
            visited_at=visit.visited_at,
            visitor_id=visit.visitor_id,
            households=visit.households,
            opened_tickets=list(visit.opened_tickets),
            notes=(notes or {}).get("notes"),
        )
