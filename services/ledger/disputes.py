"""The community dispute ledger (矛盾纠纷台账): kinds, states, sessions, breaches, time to settle.

Positions are kept under `source:<source>/dispute`, apart from the wish and ticket ledgers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from events.disputes import (
    DisputeEvent,
    DisputeFiled,
    DisputeKind,
    DisputeReferred,
    DisputeResolved,
    MediationSessionHeld,
    Referral,
    SessionMode,
)
from events.topology import LEDGER_DISPUTES
from services.ledger.book import Book
from services.ledger.figures import by_community, mean, tally
from services.runtime.database import Cursor, Row

_DDL = (
    "CREATE TABLE IF NOT EXISTS {t:ledger_disputes} ("
    "dispute_id TEXT PRIMARY KEY, district TEXT NOT NULL, street TEXT NOT NULL, "
    "community TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, referral TEXT, "
    "filed_at TEXT NOT NULL, resolved_at TEXT, in_person INTEGER NOT NULL, "
    "video INTEGER NOT NULL, breaches INTEGER NOT NULL, deadline_breaches INTEGER NOT NULL, "
    "extensions INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ledger_disputes_by_community "
    "ON {t:ledger_disputes} (district, community)",
)
_STATE_AFTER = {
    "DisputeAccepted": "accepted",
    "DisputeDeclined": "declined",
    "PartyRefused": "refused",
    "AgreementSigned": "agreement_signed",
    "DisputeReferred": "referred",
    "AgreementBreached": "mediating",
    "DisputeResolved": "resolved",
}
_STARTS_MEDIATION = {"MediatorAssigned", "PartyConsented", "MediationSessionHeld"}
"""The first of these moves a filed or accepted case to mediating; later ones change nothing."""
STATES = ("filed", "accepted", "declined", "mediating", "agreement_signed", "referred",
          "resolved", "refused")  # fmt: skip
_COUNTERS = {
    "AgreementBreached": "breaches",
    "DisputeDeadlineBreached": "deadline_breaches",
    "DisputeDeadlineExtended": "extensions",
}


class DisputeFigures(BaseModel):
    disputes: int
    by_state: dict[str, int]
    agreement_breaches: int
    deadline_breaches: int


class CommunityDisputeLedger(DisputeFigures):
    district: str
    community: str
    by_kind: dict[str, int]
    by_referral: dict[str, int]
    sessions_in_person: int
    sessions_video: int
    extensions: int
    mean_days_filed_to_resolved: float | None


class DisputeCommunitySummary(DisputeFigures):
    street: str
    community: str


class DisputeLedger(Book[DisputeEvent]):
    """The dispute ledger's table in the ledger service's own store."""

    spec = LEDGER_DISPUTES
    ddl = _DDL
    main_table = "ledger_disputes"

    @staticmethod
    def apply_event(tx: Cursor, event: DisputeEvent) -> None:
        _apply(tx, event)

    def community(self, district: str, community: str) -> CommunityDisputeLedger:
        rows = self._rows("district = ? AND community = ?", (district, community))
        return CommunityDisputeLedger(
            district=district,
            community=community,
            **_figures(rows).model_dump(),
            by_kind=tally((row["kind"] for row in rows), (k.value for k in DisputeKind)),
            by_referral=tally(
                (row["referral"] for row in rows if row["referral"]), (r.value for r in Referral)
            ),
            sessions_in_person=sum(row["in_person"] for row in rows),
            sessions_video=sum(row["video"] for row in rows),
            extensions=sum(row["extensions"] for row in rows),
            mean_days_filed_to_resolved=mean(_days(row) for row in rows),
        )

    def district(self, district: str) -> list[DisputeCommunitySummary]:
        rows = self._rows("district = ?", (district,))
        return [
            DisputeCommunitySummary(street=street, community=c, **_figures(group).model_dump())
            for street, c, group in by_community(rows)
        ]

    def _rows(self, where: str, params: tuple[str, ...]) -> list[Row]:
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                f"SELECT * FROM {{t:ledger_disputes}} WHERE {where} "
                "ORDER BY community, street, dispute_id",
                params,
            )
            return tx.fetchall()


def _figures(rows: Sequence[Row]) -> DisputeFigures:
    return DisputeFigures(
        disputes=len(rows),
        by_state=tally((row["state"] for row in rows), STATES),
        agreement_breaches=sum(row["breaches"] for row in rows),
        deadline_breaches=sum(row["deadline_breaches"] for row in rows),
    )


def _days(row: Row) -> float | None:
    if not row["resolved_at"]:
        return None
    elapsed = datetime.fromisoformat(row["resolved_at"]) - datetime.fromisoformat(row["filed_at"])
    return elapsed.total_seconds() / 86400


def _apply(tx: Cursor, event: DisputeEvent) -> None:
    dispute_id = str(event.dispute_id)
    if isinstance(event, DisputeFiled):
        _file(tx, event)
    elif isinstance(event, MediationSessionHeld):
        column = "in_person" if event.mode is SessionMode.IN_PERSON else "video"
        _update(tx, dispute_id, f"{column} = {column} + 1")
    elif isinstance(event, DisputeReferred):
        _update(tx, dispute_id, "referral = ?", event.to.value)
    elif isinstance(event, DisputeResolved):
        _update(tx, dispute_id, "resolved_at = ?", event.occurred_at.isoformat())
    if (counter := _COUNTERS.get(event.type)) is not None:
        _update(tx, dispute_id, f"{counter} = {counter} + 1")
    if event.type in _STARTS_MEDIATION:
        tx.execute(
            "UPDATE {t:ledger_disputes} SET state = 'mediating' "
            "WHERE dispute_id = ? AND state IN ('filed', 'accepted')",
            (dispute_id,),
        )
    if (state := _STATE_AFTER.get(event.type)) is not None:
        _update(tx, dispute_id, "state = ?", state)


def _update(tx: Cursor, dispute_id: str, assignment: str, *params: str) -> None:
    tx.execute(
        f"UPDATE {{t:ledger_disputes}} SET {assignment} WHERE dispute_id = ?",
        (*params, dispute_id),
    )


def _file(tx: Cursor, event: DisputeFiled) -> None:
    where = event.territory
    tx.execute(
        "INSERT INTO {t:ledger_disputes} (dispute_id, district, street, community, kind, state, "
        "filed_at, in_person, video, breaches, deadline_breaches, extensions) "
        "VALUES (?, ?, ?, ?, ?, 'filed', ?, 0, 0, 0, 0, 0) ON CONFLICT (dispute_id) DO NOTHING",
        (str(event.dispute_id), where.district, where.street, where.community,
         event.kind.value, event.occurred_at.isoformat()),
    )  # fmt: skip
