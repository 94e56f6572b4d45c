"""Who may do what where: the one policy table every service enforces.

A principal acts inside a territory scope (district → street → community → grid); an action is
allowed when the role is listed for it and the target lies inside the scope. Some actions also
require ownership: a resident acts on their own items, unit staff for their own unit.
Public reads (the wish boards) skip the territory check.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from events.envelope import Role

R = Role


class Ownership(StrEnum):
    NONE = "none"
    PERSON = "person"
    """A resident only for themselves; the other listed roles act on a resident's behalf."""
    UNIT = "unit"
    """Unit staff only for their own unit."""


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    ownership: Ownership = Ownership.NONE
    public: bool = False
    """Readable by every authenticated principal, whatever their territory."""


def _rule(*roles: Role, ownership: Ownership = Ownership.NONE, public: bool = False) -> Rule:
    return Rule(frozenset(roles), ownership, public)


COMMUNITY_DESK = (R.COMMUNITY_STAFF, R.COMMUNITY_SECRETARY)
"""The community's staff and secretary: its desk."""
_NEAR_RESIDENTS = (R.BUILDING_CHIEF, R.GRID_WORKER, *COMMUNITY_DESK)
_OVERSIGHT = (*COMMUNITY_DESK, R.STREET_OFFICIAL, R.DISTRICT_OFFICIAL, R.AUDITOR)
_LADDER = (R.GRID_WORKER, *COMMUNITY_DESK, R.STREET_OFFICIAL, R.DISTRICT_OFFICIAL)
"""Who dispatches and watches tickets: the escalation ladder's levels."""
_HANDLERS = (R.UNIT_STAFF, R.VOLUNTEER, R.GRID_WORKER, *COMMUNITY_DESK)
_MEDIATION = (R.MEDIATOR, *COMMUNITY_DESK)
_ERASERS = (R.COMMUNITY_SECRETARY, R.OPERATOR)

POLICY: dict[str, Rule] = {
    "wish.post": _rule(R.RESIDENT, *_NEAR_RESIDENTS, ownership=Ownership.PERSON),
    "wish.read": _rule(*Role, public=True),
    "wish.verify": _rule(*COMMUNITY_DESK),
    "wish.reject": _rule(*COMMUNITY_DESK),
    "wish.claim": _rule(R.UNIT_STAFF, ownership=Ownership.UNIT),
    "wish.release": _rule(R.UNIT_STAFF, ownership=Ownership.UNIT),
    "wish.report_fulfilment": _rule(R.UNIT_STAFF, ownership=Ownership.UNIT),
    "wish.verify_fulfilment": _rule(*COMMUNITY_DESK),
    "wish.acknowledge": _rule(R.RESIDENT, *_NEAR_RESIDENTS, ownership=Ownership.PERSON),
    "wish.withdraw": _rule(R.RESIDENT, *_NEAR_RESIDENTS, ownership=Ownership.PERSON),
    "wish.expire": _rule(*COMMUNITY_DESK, R.SYSTEM),
    "ledger.read": _rule(*_OVERSIGHT),
    "ops.read": _rule(R.OPERATOR, R.AUDITOR),
    "ops.repair": _rule(R.OPERATOR),
    "wish.contact": _rule(R.RESIDENT, *_NEAR_RESIDENTS, ownership=Ownership.PERSON),
    # Not an endpoint of its own: what `wish.contact` (masked) needs to answer unmasked.
    "personal.read": _rule(*COMMUNITY_DESK),
    "person.erase": _rule(*_ERASERS),
    # Not endpoints of their own: who may erase a person's sealed records of each kind. An
    # erasure needs the entry of every kind of record the person has, inside the territory
    # where each record lies (`erasure_action`).
    "person.erase.wish": _rule(*_ERASERS),
    "person.erase.ticket": _rule(*_ERASERS),
    "person.erase.visit": _rule(*_ERASERS),
    "person.erase.dispute": _rule(*_ERASERS),
    "ticket.receive": _rule(R.RESIDENT, *_NEAR_RESIDENTS, ownership=Ownership.PERSON),
    "ticket.read": _rule(
        R.RESIDENT,
        *_NEAR_RESIDENTS,
        *_OVERSIGHT,
        R.UNIT_STAFF,
        R.VOLUNTEER,
        ownership=Ownership.PERSON,
    ),
    "ticket.triage": _rule(R.GRID_WORKER, *COMMUNITY_DESK),
    "ticket.dispatch": _rule(*_LADDER),
    "ticket.handle": _rule(*_HANDLERS),
    "ticket.verify": _rule(R.GRID_WORKER, *COMMUNITY_DESK),
    "ticket.rate": _rule(R.RESIDENT, *_NEAR_RESIDENTS, ownership=Ownership.PERSON),
    "ticket.close": _rule(*COMMUNITY_DESK, R.STREET_OFFICIAL, R.DISTRICT_OFFICIAL),
    "visit.record": _rule(R.GRID_WORKER, R.BUILDING_CHIEF, *COMMUNITY_DESK),
    "visit.read": _rule(R.GRID_WORKER, R.BUILDING_CHIEF, *_OVERSIGHT),
    "territory.read": _rule(*Role, public=True),
    "territory.change": _rule(R.COMMUNITY_SECRETARY, R.DISTRICT_OFFICIAL),
    "dispute.file": _rule(R.RESIDENT, *_NEAR_RESIDENTS, R.MEDIATOR, ownership=Ownership.PERSON),
    "dispute.read": _rule(R.MEDIATOR, R.GRID_WORKER, *_OVERSIGHT),
    "dispute.decide": _rule(*_MEDIATION),
    "dispute.assign": _rule(*COMMUNITY_DESK),
    "dispute.consent": _rule(R.RESIDENT, *_MEDIATION, ownership=Ownership.PERSON),
    "dispute.mediate": _rule(*_MEDIATION),
    "dispute.extend": _rule(*_MEDIATION),
    # Not an endpoint of its own: what reading sealed minutes and agreements needs.
    "dispute.records": _rule(R.MEDIATOR, R.COMMUNITY_SECRETARY),
    "unit.register": _rule(*COMMUNITY_DESK),
    "unit.read": _rule(*Role, public=True),
    "unit.manage": _rule(*COMMUNITY_DESK),
    "unit.contact": _rule(R.UNIT_STAFF, *COMMUNITY_DESK, ownership=Ownership.UNIT),
    "listing.read": _rule(*Role, public=True),
    "listing.publish": _rule(R.UNIT_STAFF, *COMMUNITY_DESK, ownership=Ownership.UNIT),
    "listing.change": _rule(R.UNIT_STAFF, *COMMUNITY_DESK, ownership=Ownership.UNIT),
    "match.read": _rule(R.UNIT_STAFF, *_OVERSIGHT, ownership=Ownership.UNIT),
    "match.respond": _rule(R.UNIT_STAFF, *COMMUNITY_DESK, ownership=Ownership.UNIT),
    "match.find": _rule(*COMMUNITY_DESK),
    "match.propose": _rule(*COMMUNITY_DESK),
    "match.confirm": _rule(*COMMUNITY_DESK),
    "evaluation.run": _rule(R.COMMUNITY_SECRETARY, R.STREET_OFFICIAL, R.DISTRICT_OFFICIAL),
    "evaluation.read": _rule(R.UNIT_STAFF, *_OVERSIGHT, ownership=Ownership.UNIT),
    "evaluation.appeal": _rule(R.UNIT_STAFF, ownership=Ownership.UNIT),
}
"""Every command and query an endpoint exposes; an endpoint without an entry fails the suite."""


OUTSIDE_TERRITORY = "policy.outside_territory"
"""The refusal of a place outside the caller's scope."""


class ForbiddenError(Exception):
    """Refused by policy; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def erasure_action(kind: str) -> str:
    """The entry that decides who may erase a sealed record of this kind (`ticket.resolution`
    is a ticket's); a kind no entry names is erased by nobody rather than unchecked."""
    action = f"person.erase.{kind.partition('.')[0]}"
    if action not in POLICY:
        raise ForbiddenError("policy.unknown_record", f"no policy entry erases {kind} records")
    return action
