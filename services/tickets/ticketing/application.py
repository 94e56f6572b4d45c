"""The dispatcher: the ticket commands, on the tickets store's command loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.tickets import Channel, HandlerKind, HoldReason, ReturnReason
from services.runtime.commands import Caller, personal_digest
from services.runtime.personal import PersonalDataVault, Sealed
from services.runtime.place import Place, Stamp
from services.runtime.policy import ForbiddenError
from services.runtime.stamping import StampedCommands
from services.tickets.atlas import Atlas
from services.tickets.ticketing.domain import (
    InvalidTicketError,
    Ticket,
    TicketNotFoundError,
)
from services.tickets.ticketing.snapshots import DeadlineView, TicketOutcome, TicketSnapshot

Decide = Callable[[Ticket, Any], object]
Seal = Callable[[TicketOutcome], Sequence[Sealed]]


__all__ = ["DeadlineView", "Dispatcher", "TicketOutcome", "TicketSnapshot"]


class Dispatcher:
    """Receives, routes and follows tickets through their lifecycle."""

    def __init__(
        self, commands: StampedCommands, atlas: Atlas, vault: PersonalDataVault | None = None
    ) -> None:
        self.commands = commands
        self.atlas = atlas
        self.vault = vault

    # Commands

    def receive(
        self,
        caller: Caller,
        *,
        place: Place,
        channel: Channel,
        proactive: bool,
        requester_id: str | None,
        title: str,
        category: str | None = None,
        building: str | None = None,
        personal: dict[str, Any] | None = None,
    ) -> TicketOutcome:
        territory = self.atlas.territory(place.district)
        territory.require_community(place.street, place.community)
        if building is not None:
            grid = territory.grid_of_building(place.community, building, place.grid)
            place = Place(place.district, place.street, place.community, grid)
        elif place.grid is not None:
            territory.require_grid(place.community, place.grid)
        if category is not None:
            self.atlas.rulebook(place.district).in_effect(self.commands.clock()).rule(category)
        payload = {
            "place": place.__dict__,
            "channel": channel,
            "proactive": proactive,
            "requester_id": requester_id,
            "title": title,
            "category": category,
            "building": building,
            "personal": personal_digest(self.vault, personal),
        }

        def decide() -> tuple[list[Aggregate], TicketOutcome]:
            ticket = Ticket.receive(
                stamp=self.commands.stamp(caller, place, requester_id),
                channel=channel,
                proactive=proactive,
                requester_id=requester_id,
                title=title,
                category=category,
                building=building,
            )
            return [ticket], TicketOutcome(ticket=TicketSnapshot.of(ticket))

        def seal(outcome: TicketOutcome) -> list[Sealed]:
            if not personal or requester_id is None:
                return []
            return [Sealed(requester_id, str(outcome.ticket.id), "ticket", personal)]

        return self.commands.run(
            caller, "receive_ticket", payload, decide, TicketOutcome, seal=seal
        )

    def triage(
        self, caller: Caller, ticket_id: UUID, *, category: str, grid: str | None
    ) -> TicketOutcome:
        def decide(ticket: Ticket) -> list[Aggregate]:
            territory = self.atlas.territory(ticket.place.district)
            chosen = grid or ticket.place.grid
            if ticket.building is not None:  # where the building lies now (maps are redrawn)
                chosen = territory.grid_of_building(ticket.place.community, ticket.building, grid)
            if chosen is None:
                raise InvalidTicketError("grid", "the ticket needs a grid (none could be found)")
            territory.require_grid(ticket.place.community, chosen)
            rules = self.atlas.rulebook(ticket.place.district).in_effect(self.commands.clock())
            p = ticket.place
            stamp = self.commands.stamp(
                caller, Place(p.district, p.street, p.community, chosen), ticket.requester_id or ""
            )
            ticket.triage(
                category=category,
                grid=chosen,
                rule=rules.rule(category),
                version=rules.version,
                stamp=stamp,
            )
            return [ticket]

        return self._change(
            caller, ticket_id, "triage_ticket", {"category": category, "grid": grid}, decide
        )

    def merge(self, caller: Caller, ticket_id: UUID, into: UUID) -> TicketOutcome:
        def decide(ticket: Ticket) -> list[Aggregate]:
            stamp = self._stamp(caller, ticket)
            target = self._load_within(caller, into)
            ticket.merge_into(target, stamp)
            return [ticket, target]

        return self._change(caller, ticket_id, "merge_ticket", {"into": str(into)}, decide)

    def dispatch(
        self,
        caller: Caller,
        ticket_id: UUID,
        *,
        handler_id: str,
        handler_kind: HandlerKind | None = None,
    ) -> TicketOutcome:
        def decide(ticket: Ticket) -> list[Aggregate]:
            kind = handler_kind or HandlerKind(ticket.handler_kind or HandlerKind.GRID_WORKER)
            ticket.dispatch(
                handler_kind=kind, handler_id=handler_id, stamp=self._stamp(caller, ticket)
            )
            return [ticket]

        payload = {"handler_id": handler_id, "handler_kind": handler_kind}
        return self._change(caller, ticket_id, "dispatch_ticket", payload, decide)

    def accept(self, caller: Caller, ticket_id: UUID, handler_id: str) -> TicketOutcome:
        return self._simple(
            caller,
            ticket_id,
            "accept_ticket",
            {"handler_id": handler_id},
            lambda t, s: t.accept(handler_id, s),
        )

    def return_ticket(
        self, caller: Caller, ticket_id: UUID, handler_id: str, reason: ReturnReason
    ) -> TicketOutcome:
        return self._simple(
            caller,
            ticket_id,
            "return_ticket",
            {"handler_id": handler_id, "reason": reason},
            lambda t, s: t.return_ticket(handler_id, reason, s),
        )

    def start_work(self, caller: Caller, ticket_id: UUID, handler_id: str) -> TicketOutcome:
        return self._simple(
            caller,
            ticket_id,
            "start_work",
            {"handler_id": handler_id},
            lambda t, s: t.start_work(handler_id, s),
        )

    def put_on_hold(
        self, caller: Caller, ticket_id: UUID, handler_id: str, reason: HoldReason
    ) -> TicketOutcome:
        return self._simple(
            caller,
            ticket_id,
            "put_on_hold",
            {"handler_id": handler_id, "reason": reason},
            lambda t, s: t.put_on_hold(handler_id, reason, s),
        )

    def resume(self, caller: Caller, ticket_id: UUID, handler_id: str) -> TicketOutcome:
        return self._simple(
            caller,
            ticket_id,
            "resume_ticket",
            {"handler_id": handler_id},
            lambda t, s: t.resume(handler_id, s),
        )

    def report_resolution(
        self,
        caller: Caller,
        ticket_id: UUID,
        handler_id: str,
        amount: Decimal | None,
        personal: dict[str, Any] | None = None,
    ) -> TicketOutcome:
        payload = {
            "handler_id": handler_id,
            "amount": str(amount) if amount is not None else None,
            "personal": personal_digest(self.vault, personal),
        }

        def seal(outcome: TicketOutcome) -> list[Sealed]:
            requester = outcome.ticket.requester_id
            if not personal or requester is None:
                return []
            record_id = f"{ticket_id}:resolution:{outcome.ticket.version}"
            return [Sealed(requester, record_id, "ticket.resolution", personal)]

        return self._simple(
            caller,
            ticket_id,
            "report_resolution",
            payload,
            lambda t, s: t.report_resolution(handler_id, amount, s),
            seal,
        )

    def verify_resolution(self, caller: Caller, ticket_id: UUID, passed: bool) -> TicketOutcome:
        return self._simple(
            caller,
            ticket_id,
            "verify_resolution",
            {"passed": passed},
            lambda t, s: t.verify_resolution(passed, s),
        )

    def rate(self, caller: Caller, ticket_id: UUID, rating: int) -> TicketOutcome:
        return self._simple(
            caller, ticket_id, "rate_ticket", {"rating": rating}, lambda t, s: t.rate(rating, s)
        )

    def close(self, caller: Caller, ticket_id: UUID, *, fixed: bool) -> TicketOutcome:
        return self._simple(
            caller,
            ticket_id,
            "close_ticket",
            {"fixed": fixed},
            lambda t, s: t.close(s) if fixed else t.close_not_fixed(s),
        )

    def watch(self, caller: Caller, ticket_id: UUID) -> TicketOutcome:
        """Record what is due now of the ticket's deadline (the scheduler's command)."""
        recorded: list[str] = []

        def decide(ticket: Ticket) -> list[Aggregate]:
            recorded[:] = ticket.watch(self._stamp(caller, ticket))
            return [ticket] if recorded else []

        outcome = self._change(caller, ticket_id, "watch_deadline", {}, decide)
        return outcome.model_copy(update={"recorded": list(recorded)})

    # Queries

    def get_ticket(self, ticket_id: UUID) -> TicketSnapshot:
        return TicketSnapshot.of(self._load(ticket_id))

    def personal_details(self, ticket: TicketSnapshot) -> dict[str, Any] | None:
        if self.vault is None or ticket.requester_id is None:
            return None
        return self.vault.get(ticket.requester_id, str(ticket.id))

    # Machinery

    def _load(self, ticket_id: UUID) -> Ticket:
        return self.commands.load(ticket_id, Ticket, TicketNotFoundError)

    def _load_within(self, caller: Caller, ticket_id: UUID) -> Ticket:
        """A ticket a command names besides its own: one outside the caller's territory is
        not found, so a command does not tell that it exists."""
        ticket = self._load(ticket_id)
        try:
            if caller.guard is not None:
                caller.guard(ticket.place, ticket.requester_id or "")
        except ForbiddenError:
            raise TicketNotFoundError(ticket_id) from None
        return ticket

    def _stamp(self, caller: Caller, ticket: Ticket) -> Stamp:
        return self.commands.stamp(caller, ticket.place, ticket.requester_id or "")

    def _simple(
        self,
        caller: Caller,
        ticket_id: UUID,
        command: str,
        payload: dict[str, Any],
        decide: Decide,
        seal: Seal | None = None,
    ) -> TicketOutcome:
        def change(ticket: Ticket) -> list[Aggregate]:
            decide(ticket, self._stamp(caller, ticket))
            return [ticket]

        return self._change(caller, ticket_id, command, payload, change, seal)

    def _change(
        self,
        caller: Caller,
        ticket_id: UUID,
        command: str,
        payload: dict[str, Any],
        change: Callable[[Ticket], list[Aggregate]],
        seal: Seal | None = None,
    ) -> TicketOutcome:
        def decide() -> tuple[list[Aggregate], TicketOutcome]:
            ticket = self._load(ticket_id)
            pending = change(ticket)
            return pending, TicketOutcome(ticket=TicketSnapshot.of(ticket))

        payload = {"ticket_id": str(ticket_id), **payload}
        return self.commands.run(
            caller, command, payload, decide, TicketOutcome, lock=ticket_id, seal=seal
        )
