"""The matching service as a source on the bus: its name, what its aggregates publish, and
its log's translation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from events.envelope import IntegrationEvent
from events.evaluations import (
    EvaluationAppealed,
    EvaluationOpened,
    IndicatorScored,
    UnitEvaluated,
)
from events.listings import (
    ListingChanged,
    ListingPaused,
    ListingPublished,
    ListingResumed,
    ListingWithdrawn,
)
from events.matches import (
    MatchAccepted,
    MatchCancelled,
    MatchClosed,
    MatchConfirmed,
    MatchDeclined,
    MatchDelivered,
    MatchExpired,
    MatchProposed,
    MatchRated,
    MatchScheduled,
)
from events.units import (
    CoBuildingAgreementEnded,
    CoBuildingAgreementRenewed,
    CoBuildingAgreementSigned,
    UnitDetailsChanged,
    UnitJoinedAlliance,
    UnitLeftAlliance,
    UnitRegistered,
    UnitReinstated,
    UnitSuspended,
)
from services.matching.evaluations.domain import Evaluation
from services.matching.lists.domain import Listing
from services.matching.matches.domain import Match
from services.matching.registry.domain import Unit
from services.runtime import publishing
from services.runtime.publishing import EventIds, Publication

SOURCE = "matching"


def _none(_: Any) -> dict[str, Any]:
    return {}


def _unit(fields: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """Every unit event names the unit by its code, which each stored event carries."""
    return lambda e: {"unit_id": e.unit_id, **fields(e)}


UNITS = Publication(
    aggregate=Unit,
    stored_as=("services.matching.registry.domain:Unit",),
    id_field=None,
    fields={
        "Registered": (UnitRegistered, _unit(lambda e: {"name": e.name, "kind": e.kind})),
        "DetailsChanged": (UnitDetailsChanged, _unit(lambda e: {"name": e.name, "kind": e.kind})),
        "JoinedAlliance": (UnitJoinedAlliance, _unit(_none)),
        "Suspended": (UnitSuspended, _unit(lambda e: {"reason": e.reason})),
        "Reinstated": (UnitReinstated, _unit(_none)),
        "LeftAlliance": (UnitLeftAlliance, _unit(lambda e: {"reason": e.reason})),
        "AgreementSigned": (CoBuildingAgreementSigned, _unit(
            lambda e: {"starts_on": e.starts_on, "ends_on": e.ends_on})),
        "AgreementRenewed": (CoBuildingAgreementRenewed, _unit(lambda e: {"ends_on": e.ends_on})),
        "AgreementEnded": (CoBuildingAgreementEnded, _unit(lambda e: {"how": e.how})),
    },
)  # fmt: skip

LISTINGS = Publication(
    aggregate=Listing,
    stored_as=("services.matching.lists.domain:Listing",),
    id_field="listing_id",
    fields={
        "Published": (ListingPublished, lambda e: {"side": e.side, "unit_id": e.unit_id,
                                                   "terms": e.terms}),
        "Changed": (ListingChanged, lambda e: {"terms": e.terms}),
        "Paused": (ListingPaused, _none),
        "Resumed": (ListingResumed, _none),
        "Withdrawn": (ListingWithdrawn, _none),
    },
)  # fmt: skip

MATCHES = Publication(
    aggregate=Match,
    stored_as=("services.matching.matches.domain:Match",),
    id_field="match_id",
    fields={
        "Proposed": (MatchProposed, lambda e: {
            "need_kind": e.need_kind, "need_id": e.need_id, "listing_id": e.listing_id,
            "unit_id": e.unit_id, "score": e.score, "reasons": e.reasons,
            "expires_at": e.expires_at}),
        "Accepted": (MatchAccepted, lambda e: {"by": e.by, "agreed": e.agreed}),
        "Declined": (MatchDeclined, lambda e: {"by": e.by, "reason": e.reason}),
        "Expired": (MatchExpired, _none),
        "Closed": (MatchClosed, lambda e: {"reason": e.reason}),
        "Cancelled": (MatchCancelled, lambda e: {"by": e.by}),
        "Scheduled": (MatchScheduled, lambda e: {"scheduled_for": e.scheduled_for}),
        "Delivered": (MatchDelivered, _none),
        "Confirmed": (MatchConfirmed, _none),
        "Rated": (MatchRated, lambda e: {"rating": e.rating}),
    },
)  # fmt: skip


def _period(fields: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """Every evaluation event names its unit and period."""
    return lambda e: {"unit_id": e.unit_id, "period": e.period, **fields(e)}


EVALUATIONS = Publication(
    aggregate=Evaluation,
    stored_as=("services.matching.evaluations.domain:Evaluation",),
    id_field="evaluation_id",
    fields={
        "Opened": (EvaluationOpened, _period(_none)),
        "Scored": (IndicatorScored, _period(lambda e: {
            "indicator": e.indicator, "points": e.points, "evidence": e.evidence})),
        "Appealed": (EvaluationAppealed, _period(lambda e: {"grounds": e.grounds})),
        "Closed": (UnitEvaluated, _period(lambda e: {"scores": e.scores, "total": e.total})),
    },
)  # fmt: skip

PUBLICATIONS = (UNITS, LISTINGS, MATCHES, EVALUATIONS)


def translator(
    mapper: Mapper[UUID], ids: EventIds
) -> Callable[[Notification], IntegrationEvent | None]:
    """Translate the matching log; what no publication publishes (receipts, contact changes)
    is skipped."""
    return publishing.translator(mapper, ids, PUBLICATIONS, source=SOURCE)
