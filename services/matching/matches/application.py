"""The people's steps of a match — accept, decline, schedule, deliver, confirm, rate, cancel —
each load → decide → save on the matching store (`proposing.py` makes the proposals).

An agreement reserves one unit of the offer's capacity in the same transaction that records
it (the listing is saved with the match), so concurrent acceptances never over-book: the
library refuses the second save of one listing version, and the retry decides again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from pydantic import BaseModel

from events.envelope import Role
from events.matches import DeclineReason, NeedKind, Party, Reason
from services.matching.lists.domain import CapacityExhaustedError, Listing, ListingTransitionError
from services.matching.matches.domain import (
    Match,
    MatchError,
    MatchNotFoundError,
    MatchState,
    MatchTransitionError,
)
from services.matching.needs import give_back_share, take_share
from services.matching.registry.domain import Membership, Unit, unit_key
from services.runtime.commands import Caller
from services.runtime.database import Cursor, Database
from services.runtime.place import Place, Stamp
from services.runtime.policy import ForbiddenError
from services.runtime.stamping import StampedCommands


class WishAcceptedInTicketsError(MatchError):
    """A unit takes a wish by claiming it in the tickets service, not here."""

    code = "match.claim_the_wish"

    def __init__(self) -> None:
        super().__init__("a wish's proposal is accepted by claiming the wish (POST /wishes/…)")


class UnitNotMemberError(MatchError):
    """Only a unit in its community's alliance takes on a match (a suspended unit, one that
    left, or one never enrolled cannot)."""

    code = "match.unit_not_member"

    def __init__(self, unit_id: str, membership: Membership) -> None:
        super().__init__(f"unit {unit_id} is not a member of the alliance ({membership.value})")
        self.unit_id = unit_id


class MatchSnapshot(BaseModel):
    match_id: UUID
    need_kind: NeedKind
    need_id: UUID
    listing_id: UUID
    unit_id: str | None
    district: str
    street: str
    community: str
    score: float
    reasons: list[Reason]
    state: MatchState
    accepted_by: list[str]
    expires_at: datetime
    scheduled_for: datetime | None
    rating: int | None
    version: int

    @classmethod
    def of(cls, match: Match) -> MatchSnapshot:
        place = match.place
        return cls(
            match_id=match.id, need_kind=match.need_kind, need_id=match.need_id,
            listing_id=match.listing_id, unit_id=match.unit_id, district=place.district,
            street=place.street, community=place.community, score=match.score,
            reasons=list(match.reasons), state=match.state, accepted_by=list(match.accepted_by),
            expires_at=match.expires_at, scheduled_for=match.scheduled_for, rating=match.rating,
            version=match.version,
        )  # fmt: skip


class MatchOutcome(BaseModel):
    match: MatchSnapshot
    position: int = 0


class Proposed(BaseModel):
    need_kind: NeedKind
    need_id: UUID
    matches: list[MatchSnapshot]
    position: int = 0


class FoundMatch(BaseModel):
    """One ranked offer for a need, as the coordinator's "find match" shows it."""

    listing_id: UUID
    unit_id: str | None
    score: float
    reasons: list[Reason]


class NeedNotFoundError(MatchError):
    code = "match.need_not_found"

    def __init__(self, kind: NeedKind, need_id: UUID) -> None:
        super().__init__(f"matching knows no {kind.value} {need_id}")


class NeedNotOpenError(MatchError):
    """Only an open need (a verified wish not yet filled, a triaged ticket, a listed demand)
    is matched."""

    code = "match.need_not_open"

    def __init__(self, kind: NeedKind, need_id: UUID, state: str) -> None:
        super().__init__(f"{kind.value} {need_id} is {state}, not open for matching")


class MatchDesk:
    """Carries each match through its lifecycle, reserving and releasing capacity."""

    def __init__(self, commands: StampedCommands, database: Database) -> None:
        self.commands = commands
        self.database = database

    def accept(self, caller: Caller, match_id: UUID, by: Party) -> MatchOutcome:
        def decide(match: Match, stamp: Stamp) -> list[Aggregate]:
            if match.need_kind is NeedKind.WISH and by is Party.UNIT:
                raise WishAcceptedInTicketsError
            return self.accepted(match, by, stamp)

        return self.change(caller, match_id, "accept_match", {"by": by}, decide, side=by)

    def accepted(self, match: Match, by: Party, stamp: Stamp) -> list[Aggregate]:
        """Accept for one side, by whatever route (the API, a match by hand): never past the
        proposal's time (before the sweep marked it), never for a need no longer open (filled
        or gone), never for a unit out of the alliance; capacity reserved once both agreed."""
        if match.state is MatchState.PROPOSED and stamp.occurred_at >= match.expires_at:
            raise MatchTransitionError("accept", MatchState.EXPIRED)  # not swept yet
        if match.state is MatchState.PROPOSED:
            state = self.need_state(match.need_kind, match.need_id)
            if state is not None and state != "open":
                raise NeedNotOpenError(match.need_kind, match.need_id, state)
        self.check_member(match.unit_id)
        if match.accept(by, stamp):
            return self.reserve(match, stamp, strict=True)
        return []

    def need_state(self, kind: NeedKind, need_id: UUID) -> str | None:
        """Where the need stands in matching's needs (None: matching has not heard of it)."""
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT state FROM {t:needs} WHERE need_kind = ? AND need_id = ?",
                       (kind.value, str(need_id)))  # fmt: skip
            row = tx.fetchone()
        return str(row["state"]) if row else None

    def decline(
        self, caller: Caller, match_id: UUID, by: Party, reason: DeclineReason
    ) -> MatchOutcome:
        return self.change(caller, match_id, "decline_match", {"by": by, "reason": reason},
                            only(lambda m, s: m.decline(by, reason, s)), side=by)  # fmt: skip

    def cancel(self, caller: Caller, match_id: UUID, by: Party) -> MatchOutcome:
        def decide(match: Match, stamp: Stamp) -> list[Aggregate]:
            match.cancel(by, stamp)
            return self.release(match, stamp)

        return self.change(caller, match_id, "cancel_match", {"by": by}, decide, side=by)

    def schedule(self, caller: Caller, match_id: UUID, when: datetime) -> MatchOutcome:
        return self.change(caller, match_id, "schedule_match", {"when": when.isoformat()},
                            only(lambda m, s: m.schedule(when, s)))  # fmt: skip

    def deliver(self, caller: Caller, match_id: UUID) -> MatchOutcome:
        return self.change(caller, match_id, "deliver_match", {},
                            only(lambda m, s: m.deliver(s)), side=Party.UNIT)  # fmt: skip

    def confirm(self, caller: Caller, match_id: UUID) -> MatchOutcome:
        return self.change(caller, match_id, "confirm_match", {},
                            only(lambda m, s: m.confirm(s)), side=Party.COMMUNITY)  # fmt: skip

    def rate(self, caller: Caller, match_id: UUID, rating: int) -> MatchOutcome:
        return self.change(caller, match_id, "rate_match", {"rating": rating},
                            only(lambda m, s: m.rate(rating, s)), side=Party.COMMUNITY)  # fmt: skip

    def get(self, match_id: UUID) -> MatchSnapshot:
        return MatchSnapshot.of(self.load(match_id))

    def reserve(self, match: Match, stamp: Stamp, *, strict: bool) -> list[Aggregate]:
        listing = self.commands.load(match.listing_id, Listing, MatchNotFoundError)
        try:
            listing.reserve(match.id, stamp)
        except (CapacityExhaustedError, ListingTransitionError):
            if strict:
                raise
            return []  # the claim in tickets happened anyway: the offer is over-used, not refused
        return [listing]

    def release(self, match: Match, stamp: Stamp) -> list[Aggregate]:
        listing = self.commands.load(match.listing_id, Listing, MatchNotFoundError)
        listing.release(match.id, stamp)
        return [listing]

    def check_member(self, unit_id: str | None) -> None:
        """The community's own offers need no member; a unit's need it in the alliance now."""
        if unit_id is None:
            return
        never = UnitNotMemberError(unit_id, Membership.NONE)
        unit = self.commands.load(unit_key(unit_id), Unit, lambda _: never)
        if unit.membership is not Membership.MEMBER:
            raise UnitNotMemberError(unit_id, unit.membership)

    def offer_place(self, listing_id: UUID) -> Place:
        """Where the offer lies (its unit's place): what a unit's staff must be scoped to."""
        return self.commands.load(listing_id, Listing, MatchNotFoundError).place

    def exists(self, match_id: UUID) -> bool:
        try:
            self.commands.app.repository.get(match_id)
        except AggregateNotFoundError:
            return False
        return True

    def load(self, match_id: UUID | str) -> Match:
        key = match_id if isinstance(match_id, UUID) else UUID(match_id)
        return self.commands.load(key, Match, MatchNotFoundError)

    def change(
        self,
        caller: Caller,
        match_id: UUID,
        command: str,
        payload: dict[str, Any],
        decide: Callable[[Match, Stamp], list[Aggregate]],
        *,
        side: Party | None = None,
    ) -> MatchOutcome:
        """Load → decide → save one match, once the caller may act for `side`: the unit's
        side (its own staff, or staff whose territory holds the offer) or the community's
        (staff whose territory holds the need); None is either side."""

        before: list[MatchState] = []

        def attempt() -> tuple[list[Aggregate], MatchOutcome]:
            match = self.load(match_id)
            before[:] = [match.state]
            self._check_side(caller, match, side)
            acting = replace(caller, guard=None)  # checked above, for the side it acts on
            also = decide(match, self.commands.stamp(acting, match.place, None))
            return [match, *also], MatchOutcome(match=MatchSnapshot.of(match))

        def shares(outcome: MatchOutcome) -> list[Callable[[Cursor], None]]:
            return share_writes(outcome.match, before[0] if before else None)

        payload = {"match_id": str(match_id), **payload}
        return self.commands.run(caller, command, payload, attempt, MatchOutcome, lock=match_id,
                                 also=shares)  # fmt: skip

    def _check_side(self, caller: Caller, match: Match, side: Party | None) -> None:
        if caller.guard is None:
            return  # the service itself (the matchmaker)
        if side is Party.COMMUNITY or (side is None and caller.role != Role.UNIT_STAFF.value):
            try:
                caller.guard(match.place, "")  # the need's community answers for it
                return
            except ForbiddenError:
                if side is Party.COMMUNITY:
                    raise
        if caller.unit_guard is not None:
            caller.unit_guard(match.unit_id)  # unit staff: only their own unit's
        caller.guard(self.offer_place(match.listing_id), "")


def share_writes(match: MatchSnapshot, before: MatchState | None) -> list[Callable[[Cursor], None]]:
    """What an agreement or its calling off does to its demand's or ticket's shares (a wish's
    are the tickets service's claims), in the transaction that saves it: an agreement beyond
    the shares the need asks for is refused, and the whole save with it."""
    if match.need_kind is NeedKind.WISH or before is None:
        return []
    kind, need_id = match.need_kind.value, str(match.need_id)
    if before is MatchState.PROPOSED and match.state is MatchState.AGREED:

        def take(tx: Cursor) -> None:
            if not take_share(tx, kind, need_id):
                raise NeedNotOpenError(match.need_kind, match.need_id, "filled")

        return [take]
    if before in (MatchState.AGREED, MatchState.SCHEDULED) and match.state is MatchState.CANCELLED:
        return [lambda tx: give_back_share(tx, kind, need_id)]
    return []


def only(step: Callable[[Match, Stamp], None]) -> Callable[[Match, Stamp], list[Aggregate]]:
    """A step that changes the match alone."""

    def decide(match: Match, stamp: Stamp) -> list[Aggregate]:
        step(match, stamp)
        return []

    return decide
