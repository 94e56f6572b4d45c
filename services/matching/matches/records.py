"""What matching reads across its tables for one question: the offers that could serve a
need (with their capacity left and their unit's record), a unit's reciprocity balance, and the
matches a unit delivered in a period (an evaluation's evidence)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel

from events.listings import ListingTerms, Side
from events.matches import NeedKind
from events.taxonomy import ServiceCategory
from services.matching.lists.domain import ListingState
from services.matching.matches.domain import HOLDS_CAPACITY, MatchState
from services.matching.matches.scoring import Candidate, UnitRecord
from services.matching.matches.view import MatchEntry, entry
from services.matching.registry.domain import Membership
from services.runtime.database import Database
from services.runtime.place import Place

_HOLDING = tuple(s.value for s in HOLDS_CAPACITY)
_DELIVERED = (MatchState.DELIVERED.value, MatchState.CONFIRMED.value, MatchState.RATED.value)


class Balance(BaseModel):
    """A unit's reciprocity (双向服务): services it gave the community, services it received."""

    unit_id: str
    gave: dict[str, int]
    received: dict[str, int]
    given: int
    got: int
    evaluation: float | None
    """Its latest closed evaluation's total, out of 100."""


class MatchRecords:
    """Queries over the lists' and matches' tables."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def candidates(
        self, district: str, categories: Sequence[ServiceCategory], *, exclude_units: Sequence[str]
    ) -> list[Candidate]:
        """Listed offers of the categories in the district, of member units or the community,
        with their capacity left and their unit's record."""
        if not categories:
            return []
        marks = ", ".join("?" * len(categories))
        holding = ", ".join("?" * len(_HOLDING))
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT l.listing_id, l.unit_id, l.street, l.community, l.grid, l.category, "
                "l.terms, r.open_matches, r.agreed, r.delivered, r.ratings, r.rating_total, "
                "r.evaluation, r.last_helped_at, (SELECT COUNT(*) FROM {t:match_board} m "
                f"WHERE m.listing_id = l.listing_id AND m.state IN ({holding})) AS taken "
                "FROM {t:listing_board} l LEFT JOIN {t:unit_directory} u ON u.unit_id = l.unit_id "
                "LEFT JOIN {t:unit_records} r ON r.unit_id = l.unit_id "
                f"WHERE l.district = ? AND l.side = ? AND l.state = ? AND l.category IN ({marks}) "
                "AND (l.unit_id IS NULL OR u.membership = ?)",
                [*_HOLDING, district, Side.OFFER.value, ListingState.LISTED.value,
                 *(c.value for c in categories), Membership.MEMBER.value],
            )  # fmt: skip
            rows = tx.fetchall()
        excluded = set(exclude_units)
        return [_candidate(district, row) for row in rows if row["unit_id"] not in excluded]

    def categories_of(self, listing_ids: Sequence[UUID]) -> dict[UUID, str]:
        """Each listing's category, by id (those the lists know)."""
        if not listing_ids:
            return {}
        marks = ", ".join("?" * len(listing_ids))
        with self.database.transaction(commit=False) as tx:
            tx.execute(f"SELECT listing_id, category FROM {{t:listing_board}} "
                       f"WHERE listing_id IN ({marks})", [str(i) for i in listing_ids])  # fmt: skip
            return {UUID(row["listing_id"]): str(row["category"]) for row in tx.fetchall()}

    def lister_of(self, listing_id: str) -> str | None:
        """The unit that put the listing on its list (None: the community's own)."""
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT unit_id FROM {t:listing_board} WHERE listing_id = ?",
                       (listing_id,))  # fmt: skip
            row = tx.fetchone()
        return str(row["unit_id"]) if row and row["unit_id"] else None

    def stale_proposals(self, limit: int = 200) -> list[UUID]:
        """Open proposals whose offer was paused or withdrawn, or whose unit was suspended or
        left (a unit the directory does not know yet is not taken for gone)."""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT m.match_id FROM {t:match_board} m "
                "JOIN {t:listing_board} l ON l.listing_id = m.listing_id "
                "LEFT JOIN {t:unit_directory} u ON u.unit_id = m.unit_id "
                "WHERE m.state = ? AND (l.state <> ? OR u.membership <> ?) "
                "ORDER BY m.match_id LIMIT ?",
                (MatchState.PROPOSED.value, ListingState.LISTED.value, Membership.MEMBER.value,
                 limit),
            )  # fmt: skip
            return [UUID(row["match_id"]) for row in tx.fetchall()]

    def balance(self, unit_id: str) -> Balance:
        """What the unit gave (its offers' delivered matches) and received (matches delivered
        for its demands), by category, and its latest closed evaluation."""
        delivered = ", ".join("?" * len(_DELIVERED))
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT l.category, COUNT(*) AS n FROM {t:match_board} m JOIN {t:listing_board} l "
                f"ON l.listing_id = m.listing_id WHERE m.unit_id = ? AND m.state IN ({delivered}) "
                "GROUP BY l.category ORDER BY l.category",
                [unit_id, *_DELIVERED],
            )  # fmt: skip
            gave = {row["category"]: int(row["n"]) for row in tx.fetchall()}
            tx.execute(
                "SELECT l.category, COUNT(*) AS n FROM {t:match_board} m JOIN {t:listing_board} l "
                "ON l.listing_id = m.need_id WHERE m.need_kind = ? AND l.unit_id = ? "
                f"AND m.state IN ({delivered}) GROUP BY l.category ORDER BY l.category",
                [NeedKind.DEMAND.value, unit_id, *_DELIVERED],
            )  # fmt: skip
            received = {row["category"]: int(row["n"]) for row in tx.fetchall()}
            tx.execute("SELECT evaluation FROM {t:unit_records} WHERE unit_id = ?", (unit_id,))
            row = tx.fetchone()
        return Balance(unit_id=unit_id, gave=gave, received=received,
                       given=sum(gave.values()), got=sum(received.values()),
                       evaluation=row["evaluation"] if row else None)  # fmt: skip

    def delivered_by(self, unit_id: str, first: str, last: str) -> list[MatchEntry]:
        """The unit's matches delivered (then confirmed, rated) between two ISO dates, by when
        they were delivered (a match rated later stays in the period it was delivered in)."""
        delivered = ", ".join("?" * len(_DELIVERED))
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                f"SELECT * FROM {{t:match_board}} WHERE unit_id = ? AND state IN ({delivered}) "
                "AND COALESCE(delivered_at, updated_at) >= ? "
                "AND COALESCE(delivered_at, updated_at) < ? "
                "ORDER BY COALESCE(delivered_at, updated_at), match_id",
                [unit_id, *_DELIVERED, first, last],
            )  # fmt: skip
            return [entry(row) for row in tx.fetchall()]


def _candidate(district: str, row: Any) -> Candidate:
    terms = ListingTerms.model_validate(orjson.loads(row["terms"]))
    capacity = terms.capacity
    record = UnitRecord(
        open_matches=row["open_matches"] or 0, agreed=row["agreed"] or 0,
        delivered=row["delivered"] or 0, ratings=row["ratings"] or 0,
        rating_total=row["rating_total"] or 0, evaluation=row["evaluation"],
        last_helped_at=datetime.fromisoformat(row["last_helped_at"])
        if row["last_helped_at"] else None,
    )  # fmt: skip
    return Candidate(
        listing_id=UUID(row["listing_id"]), unit_id=row["unit_id"],
        place=Place(district, row["street"], row["community"], row["grid"]),
        category=ServiceCategory(row["category"]), reach=terms.reach,
        remaining=None if capacity is None else capacity - int(row["taken"]),
        availability=terms.availability, record=record,
    )  # fmt: skip
