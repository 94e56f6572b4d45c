"""The door-knocking ledger (敲门行动): visits made, households reached, tickets they opened."""

from __future__ import annotations

from pydantic import BaseModel

from events.tickets import VisitRecorded
from events.topology import LEDGER_VISITS
from services.ledger.book import Book
from services.runtime.database import Cursor

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:ledger_visits} ("
    "visit_id TEXT PRIMARY KEY, district TEXT NOT NULL, street TEXT NOT NULL, "
    "community TEXT NOT NULL, grid TEXT, visited_at TEXT NOT NULL, households BIGINT NOT NULL, "
    "opened_tickets BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ledger_visits_by_community "
    "ON {t:ledger_visits} (district, community)",
)


class CommunityVisitLedger(BaseModel):
    district: str
    community: str
    visits: int
    households: int
    opened_tickets: int
    """Proactive tickets (未诉先办) the visits' findings opened."""


class VisitLedger(Book[VisitRecorded]):
    """The visit ledger's table in the ledger service's own store."""

    spec = LEDGER_VISITS
    ddl = _DDL
    main_table = "ledger_visits"

    @staticmethod
    def apply_event(tx: Cursor, event: VisitRecorded) -> None:
        where = event.territory
        tx.execute(
            "INSERT INTO {t:ledger_visits} (visit_id, district, street, community, grid, "
            "visited_at, households, opened_tickets) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (visit_id) DO NOTHING",
            (str(event.visit_id), where.district, where.street, where.community, where.grid,
             event.occurred_at.isoformat(), event.households, len(event.opened_tickets)),
        )  # fmt: skip

    def community(self, district: str, community: str) -> CommunityVisitLedger:
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT COUNT(*) AS visits, COALESCE(SUM(households), 0) AS households, "
                "COALESCE(SUM(opened_tickets), 0) AS opened FROM {t:ledger_visits} "
                "WHERE district = ? AND community = ?",
                (district, community),
            )
            row = tx.fetchone()
        assert row is not None
        return CommunityVisitLedger(
            district=district, community=community, visits=int(row["visits"]),
            households=int(row["households"]), opened_tickets=int(row["opened"]),
        )  # fmt: skip
