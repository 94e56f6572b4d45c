"""The community wish ledger (台账): counts by state, claims per unit, time to claim and fulfil.

Each source's position is recorded in the same transaction as the rows it changed, so a
redelivered or republished event has no second effect.
"""

from __future__ import annotations

import statistics
from collections import Counter

from pydantic import BaseModel

from events.topology import LEDGER_WISHES
from events.wishes import (
    WishAcknowledged,
    WishClaimed,
    WishClaimRefused,
    WishClaimReleased,
    WishEvent,
    WishFulfilmentReported,
    WishPosted,
)
from services.ledger.book import Book
from services.ledger.figures import Durations, durations
from services.runtime.database import Cursor

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:ledger_wishes} ("
    "wish_id TEXT PRIMARY KEY, district TEXT NOT NULL, street TEXT NOT NULL, "
    "community TEXT NOT NULL, state TEXT NOT NULL, posted_at TEXT NOT NULL, "
    "first_claimed_at TEXT, fulfilment_reported_at TEXT, claims INTEGER NOT NULL, "
    "refusals INTEGER NOT NULL, rating INTEGER)",
    "CREATE INDEX IF NOT EXISTS ledger_wishes_by_community "
    "ON {t:ledger_wishes} (district, community)",
    "CREATE TABLE IF NOT EXISTS {t:ledger_unit_claims} ("
    "district TEXT NOT NULL, community TEXT NOT NULL, unit_id TEXT NOT NULL, "
    "claims INTEGER NOT NULL, released INTEGER NOT NULL, "
    "PRIMARY KEY (district, community, unit_id))",
)
_STATE_AFTER = {
    "WishPosted": "submitted",
    "WishVerified": "open",
    "WishRejected": "rejected",
    "WishClaimed": "claimed",
    "WishFulfilmentReported": "fulfilment_reported",
    "WishFulfilmentVerified": "fulfilled",
    "WishAcknowledged": "closed",
    "WishWithdrawn": "withdrawn",
    "WishExpired": "expired",
}
STATES = tuple(dict.fromkeys(_STATE_AFTER.values()))


class UnitClaims(BaseModel):
    unit_id: str
    claims: int
    released: int


class CommunityWishLedger(BaseModel):
    district: str
    community: str
    wishes: int
    by_state: dict[str, int]
    claims: int
    refused_claims: int
    claims_by_unit: list[UnitClaims]
    post_to_claim: Durations
    post_to_fulfilment: Durations
    mean_rating: float | None


class CommunitySummary(BaseModel):
    street: str
    community: str
    wishes: int
    by_state: dict[str, int]


class WishLedger(Book[WishEvent]):
    """The ledger's tables in the ledger service's own store."""

    spec = LEDGER_WISHES
    ddl = _DDL
    main_table = "ledger_wishes"

    @staticmethod
    def apply_event(tx: Cursor, event: WishEvent) -> None:
        _apply(tx, event)

    def community(self, district: str, community: str) -> CommunityWishLedger:
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT * FROM {t:ledger_wishes} WHERE district = ? AND community = ?",
                (district, community),
            )
            wishes = tx.fetchall()
            tx.execute(
                "SELECT unit_id, claims, released FROM {t:ledger_unit_claims} "
                "WHERE district = ? AND community = ? ORDER BY claims DESC, unit_id",
                (district, community),
            )
            units = [UnitClaims.model_validate(dict(row)) for row in tx.fetchall()]
        by_state = Counter(row["state"] for row in wishes)
        ratings = [row["rating"] for row in wishes if row["rating"] is not None]
        return CommunityWishLedger(
            district=district,
            community=community,
            wishes=len(wishes),
            by_state={state: by_state.get(state, 0) for state in STATES},
            claims=sum(row["claims"] for row in wishes),
            refused_claims=sum(row["refusals"] for row in wishes),
            claims_by_unit=units,
            post_to_claim=durations(wishes, "posted_at", "first_claimed_at"),
            post_to_fulfilment=durations(wishes, "posted_at", "fulfilment_reported_at"),
            mean_rating=round(statistics.fmean(ratings), 3) if ratings else None,
        )

    def district(self, district: str) -> list[CommunitySummary]:
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT street, community, state, COUNT(*) AS n FROM {t:ledger_wishes} "
                "WHERE district = ? GROUP BY street, community, state ORDER BY community",
                (district,),
            )
            rows = tx.fetchall()
        summaries: dict[tuple[str, str], dict[str, int]] = {}
        for row in rows:
            key = (row["street"], row["community"])
            summaries.setdefault(key, dict.fromkeys(STATES, 0))[row["state"]] = row["n"]
        return [
            CommunitySummary(street=street, community=c, wishes=sum(n.values()), by_state=n)
            for (street, c), n in summaries.items()
        ]


def _apply(tx: Cursor, event: WishEvent) -> None:
    wish_id = str(event.wish_id)
    at = event.occurred_at.isoformat()
    where = event.territory
    if isinstance(event, WishPosted):
        tx.execute(
            "INSERT INTO {t:ledger_wishes} (wish_id, district, street, community, state, "
            "posted_at, claims, refusals) VALUES (?, ?, ?, ?, ?, ?, 0, 0) "
            "ON CONFLICT (wish_id) DO NOTHING",
            (wish_id, where.district, where.street, where.community, "submitted", at),
        )
        return
    if isinstance(event, WishClaimed):
        tx.execute(
            "UPDATE {t:ledger_wishes} SET claims = claims + 1, "
            "first_claimed_at = COALESCE(first_claimed_at, ?) WHERE wish_id = ?",
            (at, wish_id),
        )
        _count_unit(tx, event, claims=1, released=0)
    elif isinstance(event, WishClaimReleased):
        _count_unit(tx, event, claims=0, released=1)
        if event.claimants == 0:
            tx.execute("UPDATE {t:ledger_wishes} SET state = 'open' WHERE wish_id = ?", (wish_id,))
    elif isinstance(event, WishClaimRefused):
        tx.execute(
            "UPDATE {t:ledger_wishes} SET refusals = refusals + 1 WHERE wish_id = ?", (wish_id,)
        )
    elif isinstance(event, WishFulfilmentReported):
        tx.execute(
            "UPDATE {t:ledger_wishes} SET fulfilment_reported_at = ? WHERE wish_id = ?",
            (at, wish_id),
        )
    elif isinstance(event, WishAcknowledged):
        tx.execute(
            "UPDATE {t:ledger_wishes} SET rating = ? WHERE wish_id = ?", (event.rating, wish_id)
        )
    if (state := _STATE_AFTER.get(event.type)) is not None:
        tx.execute("UPDATE {t:ledger_wishes} SET state = ? WHERE wish_id = ?", (state, wish_id))


def _count_unit(
    tx: Cursor, event: WishClaimed | WishClaimReleased, *, claims: int, released: int
) -> None:
    where = event.territory
    tx.execute(
        "INSERT INTO {t:ledger_unit_claims} (district, community, unit_id, claims, released) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (district, community, unit_id) DO UPDATE SET "
        "claims = {t:ledger_unit_claims}.claims + excluded.claims, "
        "released = {t:ledger_unit_claims}.released + excluded.released",
        (where.district, where.community, event.unit_id, claims, released),
    )
