"""The mediation desk's domain errors; each has a stable `code`."""

from __future__ import annotations

from uuid import UUID

from services.tickets.mediation.states import DisputeState


class DisputeError(Exception):
    """Base of the mediation desk's domain errors."""

    code = "dispute.error"


class DisputeNotFoundError(DisputeError):
    code = "dispute.not_found"

    def __init__(self, dispute_id: UUID) -> None:
        super().__init__(f"no dispute with id {dispute_id}")
        self.dispute_id = dispute_id


class RecordNotFoundError(DisputeError):
    """No such session or agreement on this dispute."""

    code = "dispute.record_not_found"

    def __init__(self, what: str) -> None:
        super().__init__(f"the dispute has no {what}")


class InvalidDisputeError(DisputeError):
    code = "dispute.invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class DisputeTransitionError(DisputeError):
    code = "dispute.illegal_transition"

    def __init__(self, action: str, state: DisputeState) -> None:
        super().__init__(f"cannot {action} a dispute that is {state.value}")
        self.action = action
        self.state = state


class NotAPartyError(DisputeError):
    code = "dispute.not_a_party"

    def __init__(self, person_id: str, parties: tuple[str, ...]) -> None:
        super().__init__(f"{person_id} is not a party to this dispute")
        self.person_id = person_id
        self.parties = parties


class NotReadyError(DisputeError):
    """A step's preconditions are missing (consents, a mediator, a session, a request)."""

    code = "dispute.not_ready"

    def __init__(self, action: str, missing: str, awaiting: tuple[str, ...] = ()) -> None:
        super().__init__(f"cannot {action} yet: {missing}")
        self.missing = missing
        self.awaiting = awaiting
