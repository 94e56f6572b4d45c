"""The community coordinator's side of matching: the open needs of a community with how many
live proposals each holds, "find match" (the offers matching would propose now, with the
reasons it would give), and a match made by hand from that list.

A match by hand is a proposal like the matchmaker's — same id for the same need and offer,
same score and reasons — already accepted for the community; the unit still answers for
itself (for a wish, by claiming it in tickets). Two coordinators choosing the same offer at
once make one proposal: the second save of that id conflicts and its retry finds the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate
from pydantic import BaseModel

from events.matches import NeedKind, Party
from events.taxonomy import ServiceCategory
from services.matching.matches.application import (
    FoundMatch,
    MatchDesk,
    MatchOutcome,
    MatchSnapshot,
    NeedNotFoundError,
    NeedNotOpenError,
    share_writes,
)
from services.matching.matches.domain import (
    LIVE,
    OPEN,
    Match,
    MatchError,
    MatchState,
    match_key,
)
from services.matching.matches.proposing import Matchmaker, mark_proposed, proposal
from services.matching.needs import OPEN as NEED_OPEN
from services.runtime.commands import Caller
from services.runtime.database import Cursor, Database
from services.runtime.place import Place

FOUND_AT_MOST = 20
"""How many ranked offers "find match" shows."""
_LIVE = sorted(s.value for s in LIVE)


class OfferCannotServeError(MatchError):
    """The offer chosen is not one matching would propose for the need: another category, out
    of reach, full or closed at the time needed, paused, or its unit not a member."""

    code = "match.offer_cannot_serve"
    field = "listing_id"

    def __init__(self, listing_id: UUID) -> None:
        super().__init__(f"offer {listing_id} cannot serve this need now")


class ProposedBeforeError(MatchError):
    """A proposal of this offer for this need was made and ended (declined, expired, closed,
    cancelled): matching proposes a pair once, so a "no" is never asked again."""

    code = "match.proposed_before"

    def __init__(self, state: MatchState) -> None:
        super().__init__(f"this offer was proposed for this need before and is {state.value}")
        self.state = state


class NeedEntry(BaseModel):
    """An open need of a community, as the coordinator's list shows it."""

    need_kind: NeedKind
    need_id: UUID
    title: str | None
    """The wish's or demand's title (a ticket's description stays in tickets)."""
    district: str
    street: str
    community: str
    grid: str | None
    categories: list[ServiceCategory]
    state: str
    """`open` while it waits for matches; `filled`, `gone` (or `waiting`, a wish not yet
    verified) otherwise."""
    opened_at: datetime
    live: int
    """Its proposals and matches still under way."""


class Coordinator:
    """What a community's coordinator reads and does in matching."""

    def __init__(self, matchmaker: Matchmaker, desk: MatchDesk, database: Database) -> None:
        self.matchmaker = matchmaker
        self.desk = desk
        self.database = database

    def needs(
        self, *, district: str, community: str, kind: NeedKind | None = None,
        limit: int = 50, offset: int = 0,
    ) -> list[NeedEntry]:  # fmt: skip
        """The community's open needs, those with fewest live proposals first, then oldest."""
        live = ", ".join("?" * len(_LIVE))
        statement = (
            "SELECT n.*, (SELECT COUNT(*) FROM {t:match_board} m WHERE m.need_kind = n.need_kind "
            f"AND m.need_id = n.need_id AND m.state IN ({live})) AS live FROM {{t:needs}} n "
            "WHERE n.district = ? AND n.community = ? AND n.state = ?"
        )
        params: list[Any] = [*_LIVE, district, community, NEED_OPEN]
        if kind is not None:
            statement += " AND n.need_kind = ?"
            params.append(kind.value)
        statement += " ORDER BY live, n.opened_at, n.need_id LIMIT ? OFFSET ?"
        with self.database.transaction(commit=False) as tx:
            tx.execute(statement, [*params, limit, offset])
            return [_need_entry(row) for row in tx.fetchall()]

    def need(self, kind: NeedKind, need_id: UUID) -> NeedEntry:
        row = self._row(kind, need_id)
        with self.database.transaction(commit=False) as tx:
            row["live"] = _live(tx, kind, need_id)
        return _need_entry(row)

    def titles(self, needs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The titles of the (kind, id) needs that have one."""
        keys = sorted(set(needs))
        if not keys:
            return {}
        marks = " OR ".join("(need_kind = ? AND need_id = ?)" for _ in keys)
        with self.database.transaction(commit=False) as tx:
            tx.execute(f"SELECT need_kind, need_id, title FROM {{t:needs}} WHERE {marks}",
                       [part for key in keys for part in key])  # fmt: skip
            return {(r["need_kind"], r["need_id"]): r["title"] for r in tx.fetchall()
                    if r["title"]}  # fmt: skip

    def need_place(self, kind: NeedKind, need_id: UUID) -> Place:
        row = self._row(kind, need_id)
        return Place(row["district"], row["street"], row["community"], row["grid"])

    def find(self, kind: NeedKind, need_id: UUID) -> list[FoundMatch]:
        """The offers matching would propose for the need now, best first, with their reasons
        (nothing is proposed or saved)."""
        _, ranked = self.matchmaker.rank_for(self._row(kind, need_id), every=True)
        return [FoundMatch(listing_id=r.candidate.listing_id, unit_id=r.candidate.unit_id,
                           score=r.score, reasons=list(r.reasons))
                for r in ranked[:FOUND_AT_MOST]]  # fmt: skip

    def match_by_hand(
        self, caller: Caller, kind: NeedKind, need_id: UUID, listing_id: UUID
    ) -> MatchOutcome:
        """Propose the offer for the need, accepted for the community. An open proposal of
        that offer is accepted for the community instead; one the community already accepted
        and still live is answered as it stands."""
        match_id = match_key(kind, need_id, listing_id)
        fresh: list[bool] = []
        before: list[MatchState] = []

        def decide() -> tuple[list[Aggregate], MatchOutcome]:
            fresh.clear()
            row = self._row(kind, need_id)
            made = self.desk.load(match_id) if self.desk.exists(match_id) else None
            before[:] = [made.state] if made else []
            if made and Party.COMMUNITY.value in made.accepted_by and made.state in LIVE:
                return [], MatchOutcome(match=MatchSnapshot.of(made))  # matched so already
            if row["state"] != NEED_OPEN:
                raise NeedNotOpenError(kind, need_id, row["state"])
            if made is not None:
                return self._accepted(caller, made)
            need, ranked = self.matchmaker.rank_for(row, every=True)
            chosen = next((r for r in ranked if r.candidate.listing_id == listing_id), None)
            if chosen is None:
                raise OfferCannotServeError(listing_id)
            stamp = self.desk.commands.stamp(caller, need.place, None)
            match = proposal(need, chosen, stamp)
            match.accept(Party.COMMUNITY, stamp)
            fresh.append(True)
            return [match], MatchOutcome(match=MatchSnapshot.of(match))

        def marked(outcome: MatchOutcome) -> list[Callable[[Cursor], None]]:
            if not fresh:  # an existing proposal (recorded when made), perhaps agreed now
                return share_writes(outcome.match, before[0] if before else None)
            return [
                lambda tx: mark_proposed(tx, kind.value, str(need_id), [match_id], proposed=False)
            ]  # the matchmaker adds its own

        payload = {"need_kind": kind, "need_id": str(need_id), "listing_id": str(listing_id)}
        return self.desk.commands.run(caller, "match_by_hand", payload, decide, MatchOutcome,
                                      lock=match_id, also=marked)  # fmt: skip

    def _accepted(self, caller: Caller, match: Match) -> tuple[list[Aggregate], MatchOutcome]:
        if match.state not in OPEN:
            raise ProposedBeforeError(match.state)
        stamp = self.desk.commands.stamp(caller, match.place, None)
        changed = [match, *self.desk.accepted(match, Party.COMMUNITY, stamp)]
        return changed, MatchOutcome(match=MatchSnapshot.of(match))

    def _row(self, kind: NeedKind, need_id: UUID) -> dict[str, Any]:
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT * FROM {t:needs} WHERE need_kind = ? AND need_id = ?",
                       (kind.value, str(need_id)))  # fmt: skip
            row = tx.fetchone()
        if row is None:
            raise NeedNotFoundError(kind, need_id)
        return dict(row)


def _live(tx: Cursor, kind: NeedKind, need_id: UUID) -> int:
    marks = ", ".join("?" * len(_LIVE))
    tx.execute(f"SELECT COUNT(*) AS n FROM {{t:match_board}} WHERE need_kind = ? AND need_id = ? "
               f"AND state IN ({marks})", (kind.value, str(need_id), *_LIVE))  # fmt: skip
    row = tx.fetchone()
    return int(row["n"]) if row else 0


def _need_entry(row: Any) -> NeedEntry:
    data = dict(row)
    return NeedEntry(
        need_kind=NeedKind(data["need_kind"]), need_id=UUID(data["need_id"]),
        title=data.get("title"), district=data["district"], street=data["street"],
        community=data["community"], grid=data["grid"],
        categories=[ServiceCategory(c) for c in orjson.loads(data["categories"])],
        state=data["state"],
        opened_at=datetime.fromisoformat(data["opened_at"]), live=int(data["live"]),
    )  # fmt: skip
