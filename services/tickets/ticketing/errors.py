"""The errors a ticket's commands raise, each with a stable code."""

from __future__ import annotations

from uuid import UUID

from services.tickets.ticketing.states import TicketState


class TicketError(Exception):
    code = "ticket.error"


class TicketNotFoundError(TicketError):
    code = "ticket.not_found"

    def __init__(self, ticket_id: UUID) -> None:
        super().__init__(f"no ticket with id {ticket_id}")


class InvalidTicketError(TicketError):
    code = "ticket.invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class TicketTransitionError(TicketError):
    code = "ticket.illegal_transition"

    def __init__(self, action: str, state: TicketState) -> None:
        super().__init__(f"cannot {action} a ticket that is {state.value}")
        self.action = action
        self.state = state


class NotTheHandlerError(TicketError):
    code = "ticket.not_the_handler"

    def __init__(self, handler_id: str, current: str | None) -> None:
        super().__init__(f"{handler_id} is not this ticket's handler ({current or 'none'})")
        self.handler_id = handler_id
        self.current = current
