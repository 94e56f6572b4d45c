"""The registry and the two lists as tables, following the matching log: what search, the
lists' wall and (later) matching's candidate queries read. Lists span aggregates, so they come
from this projection, never from loading listings in a loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from eventsourcing.persistence import ApplicationRecorder, Notification
from pydantic import BaseModel

from events.envelope import IntegrationEvent
from events.listings import (
    ListingChanged,
    ListingEvent,
    ListingPaused,
    ListingPublished,
    ListingResumed,
    ListingTerms,
    ListingWithdrawn,
    Side,
)
from events.taxonomy import ServiceCategory
from events.units import (
    CoBuildingAgreementEnded,
    CoBuildingAgreementRenewed,
    CoBuildingAgreementSigned,
    UnitDetailsChanged,
    UnitEvent,
    UnitJoinedAlliance,
    UnitLeftAlliance,
    UnitRegistered,
    UnitReinstated,
    UnitSuspended,
)
from services.matching.lists.domain import ListingState, is_available
from services.matching.matches.domain import LIVE
from services.matching.registry.domain import AgreementState, Membership
from services.runtime.database import Cursor, Database
from services.runtime.follower import LocalView
from services.runtime.workers import StoreWorkers

VIEW_NAME = "matching-lists-v1"
"""Named with its schema version: a new version starts from position 0 and rebuilds."""
_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:unit_directory} ("
    "unit_id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, district TEXT NOT NULL, "
    "street TEXT NOT NULL, community TEXT NOT NULL, grid TEXT, membership TEXT NOT NULL, "
    "agreement TEXT NOT NULL, agreement_ends TEXT, registered_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS unit_directory_by_community "
    "ON {t:unit_directory} (district, community, unit_id)",
    "CREATE TABLE IF NOT EXISTS {t:listing_board} ("
    "listing_id TEXT PRIMARY KEY, side TEXT NOT NULL, unit_id TEXT, district TEXT NOT NULL, "
    "street TEXT NOT NULL, community TEXT NOT NULL, grid TEXT, category TEXT NOT NULL, "
    "title TEXT NOT NULL, terms TEXT NOT NULL, state TEXT NOT NULL, "
    "listed_at TEXT NOT NULL, changed_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS listing_board_by_community "
    "ON {t:listing_board} (district, community, side, category)",
    "CREATE INDEX IF NOT EXISTS listing_board_by_category "
    "ON {t:listing_board} (district, category, state)",
)
_MEMBERSHIP_AFTER = {
    UnitJoinedAlliance: Membership.MEMBER,
    UnitSuspended: Membership.SUSPENDED,
    UnitReinstated: Membership.MEMBER,
    UnitLeftAlliance: Membership.LEFT,
}
_STATE_AFTER = {
    ListingPaused: ListingState.PAUSED,
    ListingResumed: ListingState.LISTED,
    ListingWithdrawn: ListingState.WITHDRAWN,
}
"""The one event → state map of each family, by integration event class."""
_LIVE = sorted(s.value for s in LIVE)


class UnitEntry(BaseModel):
    unit_id: str
    name: str
    kind: str
    district: str
    street: str
    community: str
    grid: str | None
    membership: Membership
    agreement: AgreementState
    agreement_ends: str | None
    registered_at: datetime


class ListingEntry(BaseModel):
    listing_id: str
    side: Side
    unit_id: str | None
    unit_name: str | None = None
    district: str
    street: str
    community: str
    grid: str | None
    terms: ListingTerms
    state: ListingState
    listed_at: datetime
    changed_at: datetime


@dataclass(frozen=True)
class ListingQuery:
    """Search the lists: every filter given must hold."""

    district: str
    community: str | None = None
    side: Side | None = None
    categories: Sequence[ServiceCategory] = ()
    unit_id: str | None = None
    text: str | None = None
    states: Sequence[ListingState] = (ListingState.LISTED,)
    available_at: datetime | None = None
    """Only listings usable at that instant (in the listing's local time as given)."""
    limit: int = 50
    offset: int = 0


class ListsView(LocalView):
    tables = ("unit_directory", "listing_board")
    ddl = _DDL

    def __init__(
        self,
        *,
        database: Database,
        recorder: ApplicationRecorder,
        translate: Callable[[Notification], IntegrationEvent | None],
        poll_seconds: float = 0.5,
        workers: StoreWorkers | None = None,
    ) -> None:
        super().__init__(
            name=VIEW_NAME, database=database, recorder=recorder, translate=translate,
            poll_seconds=poll_seconds, workers=workers,
        )  # fmt: skip

    def apply(self, tx: Cursor, event: IntegrationEvent) -> bool:
        if isinstance(event, UnitEvent):
            _apply_unit(tx, event)
            return True
        if isinstance(event, ListingEvent):
            _apply_listing(tx, event)
            return True
        return False

    def units(
        self, *, district: str, community: str | None, limit: int = 100, offset: int = 0
    ) -> list[UnitEntry]:
        statement = "SELECT * FROM {t:unit_directory} WHERE district = ?"
        params: list[Any] = [district]
        if community is not None:
            statement += " AND community = ?"
            params.append(community)
        statement += " ORDER BY community, unit_id LIMIT ? OFFSET ?"
        with self.database.transaction(commit=False) as tx:
            tx.execute(statement, [*params, limit, offset])
            return [UnitEntry.model_validate(dict(row)) for row in tx.fetchall()]

    def listings(self, query: ListingQuery) -> list[ListingEntry]:
        """Filtered in SQL by place, side, category, unit and state, then by text and
        availability (both need the terms), in a stable order."""
        statement, params = _listing_filter(query)
        found: list[ListingEntry] = []
        skipped = 0
        with self.database.transaction(commit=False) as tx:
            tx.execute(statement, params)
            for row in tx.fetchall():
                entry = _listing(row)
                if not _matches(entry, query):
                    continue
                if skipped < query.offset:
                    skipped += 1
                    continue
                found.append(entry)
                if len(found) >= query.limit:
                    break
        return found

    def by_id(self, listing_ids: Sequence[str]) -> dict[str, ListingEntry]:
        """The listings named, in any state, by id (those matching knows)."""
        if not listing_ids:
            return {}
        marks = ", ".join("?" * len(listing_ids))
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT l.*, u.name AS unit_name FROM {t:listing_board} l LEFT JOIN "
                f"{{t:unit_directory}} u ON u.unit_id = l.unit_id WHERE l.listing_id IN ({marks})",
                list(listing_ids),
            )
            return {row["listing_id"]: _listing(row) for row in tx.fetchall()}


def _listing_filter(query: ListingQuery) -> tuple[str, list[Any]]:
    statement = (
        "SELECT l.*, u.name AS unit_name FROM {t:listing_board} l "
        "LEFT JOIN {t:unit_directory} u ON u.unit_id = l.unit_id WHERE l.district = ?"
    )
    params: list[Any] = [query.district]
    for column, value in (("community", query.community), ("side", query.side),
                          ("unit_id", query.unit_id)):  # fmt: skip
        if value is not None:
            statement += f" AND l.{column} = ?"
            params.append(str(value))
    for column, values in (("category", query.categories), ("state", query.states)):
        if values:
            statement += f" AND l.{column} IN ({', '.join('?' * len(values))})"
            params += [str(v) for v in values]
    statement += " ORDER BY l.listed_at DESC, l.listing_id"
    return statement, params


def _matches(entry: ListingEntry, query: ListingQuery) -> bool:
    if query.text:
        needle = query.text.casefold()
        haystack = " ".join(
            (entry.terms.title, entry.terms.description, entry.terms.conditions,
             entry.unit_name or "")
        ).casefold()  # fmt: skip
        if needle not in haystack:
            return False
    return query.available_at is None or is_available(entry.terms.availability, query.available_at)


def _listing(row: Any) -> ListingEntry:
    data = dict(row)
    data["terms"] = orjson.loads(data["terms"])
    data.pop("category", None)
    data.pop("title", None)
    return ListingEntry.model_validate(data)


def _apply_unit(tx: Cursor, event: UnitEvent) -> None:
    if isinstance(event, UnitRegistered):
        where = event.territory
        tx.execute(
            "INSERT INTO {t:unit_directory} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (unit_id) DO NOTHING",
            (event.unit_id, event.name, event.kind.value, where.district, where.street,
             where.community, where.grid, Membership.NONE.value, AgreementState.NONE.value,
             None, event.occurred_at.isoformat()),
        )  # fmt: skip
        return
    changes: dict[str, Any] = {}
    if isinstance(event, UnitDetailsChanged):
        changes = {"name": event.name, "kind": event.kind.value}
    elif (membership := _MEMBERSHIP_AFTER.get(type(event))) is not None:
        changes = {"membership": membership.value}
        if membership is Membership.MEMBER:
            reconsider_needs(tx, event.territory.district, None)
    elif isinstance(event, CoBuildingAgreementSigned):
        changes = {"agreement": AgreementState.ACTIVE.value, "agreement_ends": str(event.ends_on)}
    elif isinstance(event, CoBuildingAgreementRenewed):
        changes = {"agreement_ends": str(event.ends_on)}
    elif isinstance(event, CoBuildingAgreementEnded):
        changes = {"agreement": AgreementState.ENDED.value}
    if changes:
        assignments = ", ".join(f"{column} = ?" for column in changes)
        tx.execute(
            f"UPDATE {{t:unit_directory}} SET {assignments} WHERE unit_id = ?",
            [*changes.values(), event.unit_id],
        )


def _apply_listing(tx: Cursor, event: ListingEvent) -> None:
    at = event.occurred_at.isoformat()
    if isinstance(event, ListingPublished):
        where = event.territory
        tx.execute(
            "INSERT INTO {t:listing_board} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (listing_id) DO NOTHING",
            (str(event.listing_id), event.side.value, event.unit_id, where.district,
             where.street, where.community, where.grid, event.terms.category.value,
             event.terms.title, _terms(event.terms), ListingState.LISTED.value, at, at),
        )  # fmt: skip
        if event.side is Side.OFFER:
            reconsider_needs(tx, where.district, event.terms.category)
        return
    changes: dict[str, Any] = {"changed_at": at}
    if isinstance(event, ListingChanged):
        changes |= {"category": event.terms.category.value, "title": event.terms.title,
                    "terms": _terms(event.terms)}  # fmt: skip
    elif (state := _STATE_AFTER.get(type(event))) is not None:
        changes["state"] = state.value
    assignments = ", ".join(f"{column} = ?" for column in changes)
    tx.execute(
        f"UPDATE {{t:listing_board}} SET {assignments} WHERE listing_id = ?",
        [*changes.values(), str(event.listing_id)],
    )
    if isinstance(event, ListingChanged | ListingResumed):
        tx.execute("SELECT district, side, category FROM {t:listing_board} WHERE listing_id = ?",
                   (str(event.listing_id),))  # fmt: skip
        row = tx.fetchone()
        if row is not None and row["side"] == Side.OFFER.value:
            reconsider_needs(tx, row["district"], ServiceCategory(row["category"]))


def reconsider_needs(tx: Cursor, district: str, category: ServiceCategory | None) -> None:
    """An offer became usable (listed, resumed, changed, or its unit admitted): the open needs
    it could serve that hold no live proposal are proposed for again. Done in the transaction
    that makes the offer visible to the candidate query, so the matchmaker sees both at once."""
    live = ", ".join("?" * len(_LIVE))
    statement = (
        "UPDATE {t:needs} AS n SET proposed = 0 WHERE n.district = ? AND n.state = 'open' "
        "AND n.proposed = 1 AND NOT EXISTS (SELECT 1 FROM {t:match_board} m "
        f"WHERE m.need_kind = n.need_kind AND m.need_id = n.need_id AND m.state IN ({live}))"
    )
    params: list[Any] = [district, *_LIVE]
    if category is not None:
        statement += " AND n.categories LIKE ?"
        params.append(f'%"{category.value}"%')
    tx.execute(statement, params)


def _terms(terms: ListingTerms) -> str:
    return orjson.dumps(terms.model_dump(mode="json")).decode()
