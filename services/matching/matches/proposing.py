"""Proposing offers for needs, and following what happens to the needs: a wish claimed in
tickets agrees its claimant's proposal and closes the others, a fulfilment delivers, a rating
rates, a need gone closes its open proposals; and proposals past their time expire.

A proposal's id is its need's and offer's (`match_key`), and a need is marked proposed, or a
change forgotten, in the transaction that saves what it caused: a restart or a second
instance repeats nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate

from events.envelope import Role
from events.matches import CloseReason, NeedKind, Party
from events.taxonomy import ServiceCategory
from services.matching.matches.application import (
    MatchDesk,
    MatchSnapshot,
    NeedNotOpenError,
    Proposed,
    only,
)
from services.matching.matches.domain import (
    OPEN,
    UNDER_WAY,
    Match,
    MatchState,
    MatchTransitionError,
    match_key,
)
from services.matching.matches.records import MatchRecords
from services.matching.matches.scoring import Need, Ranked, rank
from services.matching.matches.view import MatchesView
from services.matching.needs import (
    CLAIMED,
    CONFIRMED,
    DELIVERED,
    ENDED,
    PAUSED,
    RATED,
    RECAST,
    RELEASED,
    SERVED,
    add_match,
    matches_of,
)
from services.matching.needs import OPEN as NEED_OPEN
from services.runtime.commands import Caller
from services.runtime.database import Cursor, Database
from services.runtime.place import Place, Stamp

log = logging.getLogger(__name__)
MATCHMAKER = Caller(actor_id="system:matchmaker", role=Role.SYSTEM.value)
PROPOSAL_LIFETIME = timedelta(days=3)


class Matchmaker:
    """Proposes offers for needs and follows the needs' fate into their matches."""

    def __init__(self, desk: MatchDesk, view: MatchesView, database: Database) -> None:
        self.desk = desk
        self.records = MatchRecords(database)
        self.commands = desk.commands
        self.view = view
        self.database = database

    # Proposing

    def waiting(self, limit: int = 50) -> list[dict[str, Any]]:
        """Open needs nobody has proposed for yet, oldest first."""
        with self.database.transaction(commit=False) as tx:
            tx.execute(
                "SELECT * FROM {t:needs} WHERE state = 'open' AND proposed = 0 "
                "ORDER BY opened_at, need_id LIMIT ?",
                (limit,),
            )
            return [dict(row) for row in tx.fetchall()]

    def propose_waiting(self, limit: int = 50) -> int:
        """Propose for each waiting need; one whose proposing fails is set aside (`proposed`
        is -1, logged) so it never holds back the others."""
        proposed = 0
        for need in self.waiting(limit):
            try:
                proposed += len(self.propose(need).matches)
            except NeedNotOpenError:
                continue  # it went while we ranked: its closing saw no new proposal
            except Exception:
                log.exception("could not propose for %s %s; setting it aside",
                              need["need_kind"], need["need_id"])  # fmt: skip
                with self.database.transaction() as tx:
                    tx.execute("UPDATE {t:needs} SET proposed = -1 "
                               "WHERE need_kind = ? AND need_id = ?",
                               (need["need_kind"], need["need_id"]))  # fmt: skip
        return proposed

    def rank_for(
        self, need_row: dict[str, Any], *, every: bool = False
    ) -> tuple[Need, list[Ranked]]:
        need = _need(need_row, self.commands.clock())
        claimants: list[str] = orjson.loads(need_row["claimants"])
        if need_row["need_kind"] == NeedKind.DEMAND.value:  # a unit does not serve itself
            claimants += [u for u in [self.records.lister_of(need_row["need_id"])] if u]
        candidates = self.records.candidates(
            need.place.district, need.categories, exclude_units=claimants
        )
        return need, rank(need, candidates, every=every)

    def propose(self, need_row: dict[str, Any]) -> Proposed:
        """Propose the best offers not proposed for this need before (so a need proposed for
        again gets the next best), and mark the need proposed in the same transaction."""
        need, ranked = self.rank_for(need_row, every=True)
        key = (need_row["need_kind"], need_row["need_id"])

        def decide() -> tuple[list[Aggregate], Proposed]:
            stamp = self.commands.stamp(MATCHMAKER, need.place, None)
            fresh = [proposal(need, r, stamp) for r in self._fresh(need, ranked)]
            return list(fresh), Proposed(need_kind=need.kind, need_id=need.need_id,
                                         matches=[MatchSnapshot.of(m) for m in fresh])  # fmt: skip

        def marked(outcome: Proposed) -> list[Callable[[Cursor], None]]:
            made = [m.match_id for m in outcome.matches]
            return [lambda tx: mark_proposed(tx, *key, made)]

        if not self._fresh(need, ranked):
            with self.database.transaction() as tx:
                mark_proposed(tx, *key, [])
            return Proposed(need_kind=need.kind, need_id=need.need_id, matches=[])
        payload = {"need_kind": key[0], "need_id": key[1]}
        return self.commands.run(MATCHMAKER, "propose", payload, decide, Proposed, also=marked)

    def _fresh(self, need: Need, ranked: list[Ranked]) -> list[Ranked]:
        """The best offers, as many as the need wants, that were never proposed for it."""
        fresh: list[Ranked] = []
        for candidate in ranked:
            if len(fresh) >= need.proposals:
                break
            listing_id = candidate.candidate.listing_id
            if not self.desk.exists(match_key(need.kind, need.need_id, listing_id)):
                fresh.append(candidate)
        return fresh

    # Following the needs

    def follow_changes(self, limit: int = 100) -> int:
        """Apply what happened to needs (claims, deliveries, ratings, needs gone) to their
        proposals, in order; each change is done in the transaction that saves its effect."""
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT * FROM {t:need_changes} WHERE failed IS NULL ORDER BY id LIMIT ?",
                       (limit,))  # fmt: skip
            changes = [dict(row) for row in tx.fetchall()]
        for change in changes:
            try:
                self._follow(change)
            except Exception as error:
                log.exception("could not follow need change %s; setting it aside", change["id"])
                with self.database.transaction() as tx:
                    tx.execute("UPDATE {t:need_changes} SET failed = ? WHERE id = ?",
                               (repr(error)[:500], change["id"]))  # fmt: skip
        return len(changes)

    def _follow(self, change: dict[str, Any]) -> None:
        kind, need_id = NeedKind(change["need_kind"]), UUID(change["need_id"])

        def done(_: object) -> list[Callable[[Cursor], None]]:
            return [lambda tx: _forget_change(tx, int(change["id"]))]

        def decide() -> tuple[list[Aggregate], Proposed]:
            matches = [self.desk.load(m) for m in self._proposals(kind, need_id)]
            changed = self._decide_change(change, matches)
            return changed, Proposed(need_kind=kind, need_id=need_id,
                                     matches=[MatchSnapshot.of(m) for m in matches])  # fmt: skip

        pending, _ = decide()
        if not pending:
            with self.database.transaction() as tx:
                done(None)[0](tx)
            return
        payload = {"change": change["id"]}
        self.commands.run(MATCHMAKER, "follow_need", payload, decide, Proposed, also=done)

    def _proposals(self, kind: NeedKind, need_id: UUID) -> list[str]:
        with self.database.transaction(commit=False) as tx:
            return matches_of(tx, kind.value, str(need_id))

    def _decide_change(self, change: dict[str, Any], matches: list[Match]) -> list[Aggregate]:
        what, unit_id = change["change"], change["unit_id"]
        changed: list[Aggregate] = []
        need = NeedKind(change["need_kind"]), UUID(change["need_id"])
        unfit = self._unfit(*need, matches) if what == RECAST else set()
        claimed = _best_of(unit_id, matches) if what == CLAIMED else None
        for match in matches:
            stamp = self.commands.stamp(MATCHMAKER, match.place, None)
            mine = unit_id is not None and match.unit_id == unit_id
            if what == CLAIMED and match is claimed:
                for party in (Party.UNIT, Party.COMMUNITY):
                    if party.value not in match.accepted_by:
                        match.accept(party, stamp)
                changed += [match, *self.desk.reserve(match, stamp, strict=False)]
            elif what == CLAIMED and mine and match.state in OPEN:
                match.close(CloseReason.CLAIMED_WITH_ANOTHER_OFFER, stamp)
                changed.append(match)
            elif what == CLAIMED and not mine and change["filled"] and match.state in OPEN:
                match.close(CloseReason.CLAIMED_BY_ANOTHER, stamp)
                changed.append(match)
            elif what == RELEASED and mine and match.state in UNDER_WAY:
                match.cancel(Party.UNIT, stamp)
                changed += [match, *self.desk.release(match, stamp)]
            elif what == DELIVERED and mine and match.state in UNDER_WAY:
                match.deliver(stamp)
                changed.append(match)
            elif what == CONFIRMED and match.state is MatchState.DELIVERED:
                match.confirm(stamp)
                changed.append(match)
            elif what == RATED and match.state is MatchState.CONFIRMED:
                match.rate(int(change["rating"]), stamp)
                changed.append(match)
            elif what in (ENDED, PAUSED) and match.state in OPEN:
                match.close(CloseReason.NEED_GONE, stamp)
                changed.append(match)
            elif what == RECAST and match.state in OPEN and match.listing_id in unfit:
                match.close(CloseReason.NEED_GONE, stamp)  # proposed for what it asked before
                changed.append(match)
            elif what == SERVED and match.state in OPEN:
                match.close(CloseReason.CLAIMED_BY_ANOTHER, stamp)
                changed.append(match)
            elif what == ENDED and match.state in UNDER_WAY:
                match.cancel(Party.COMMUNITY, stamp)
                changed += [match, *self.desk.release(match, stamp)]
        return changed

    def _unfit(self, kind: NeedKind, need_id: UUID, matches: list[Match]) -> set[UUID]:
        """The offers of these proposals whose category the need no longer asks for."""
        with self.database.transaction(commit=False) as tx:
            tx.execute("SELECT categories FROM {t:needs} WHERE need_kind = ? AND need_id = ?",
                       (kind.value, str(need_id)))  # fmt: skip
            row = tx.fetchone()
        wanted = set(orjson.loads(row["categories"])) if row else set()
        offers = self.records.categories_of([m.listing_id for m in matches])
        return {listing for listing, category in offers.items() if category not in wanted}

    def close_stale(self, limit: int = 200) -> int:
        """Close the open proposals whose offer is no longer listed or whose unit is no
        longer in the alliance (state-based, so any order of events or instances is fine)."""
        closed = 0
        for match_id in self.records.stale_proposals(limit):
            try:
                self.desk.change(MATCHMAKER, match_id, "close_match", {}, only(_listing_gone))
            except MatchTransitionError:
                continue
            closed += 1
        return closed

    def expire_due(self, limit: int = 200) -> int:
        now = self.commands.clock()
        expired = 0
        for match_id in self.view.due_for_expiry(now, limit):
            try:
                self.desk.change(MATCHMAKER, match_id, "expire_match", {},
                             only(lambda m, s: m.expire(now, s)))  # fmt: skip
            except MatchTransitionError:
                continue
            expired += 1
        return expired


def _need(row: dict[str, Any], now: datetime) -> Need:
    kind = NeedKind(row["need_kind"])
    categories = tuple(ServiceCategory(c) for c in orjson.loads(row["categories"]))
    claimants = orjson.loads(row["claimants"])
    open_shares = max(1, int(row["quota"]) - len(claimants)) if kind is NeedKind.WISH else 1
    return Need(
        kind=kind, need_id=UUID(row["need_id"]),
        place=Place(row["district"], row["street"], row["community"], row["grid"]),
        categories=categories, wanted_at=now, proposals=2 + open_shares,
    )  # fmt: skip


def proposal(need: Need, ranked: Ranked, stamp: Stamp) -> Match:
    candidate = ranked.candidate
    return Match.propose(
        need_kind=need.kind, need_id=need.need_id, listing_id=candidate.listing_id,
        unit_id=candidate.unit_id, score=ranked.score, reasons=ranked.reasons,
        expires_at=stamp.occurred_at + PROPOSAL_LIFETIME, stamp=stamp,
    )  # fmt: skip


def mark_proposed(
    tx: Cursor, kind: str, need_id: str, made: list[UUID], *, proposed: bool = True
) -> None:
    """Record the proposals made for a need (and, for the matchmaker's, that it proposed), in
    the transaction that saves them; refused unless the need is still open, so a need that
    went meanwhile never keeps a proposal its closing did not see."""
    flag = "1" if proposed else "proposed"
    tx.execute(f"UPDATE {{t:needs}} SET proposed = {flag} WHERE need_kind = ? AND need_id = ? "
               "AND state = ? RETURNING need_id", (kind, need_id, NEED_OPEN))  # fmt: skip
    if tx.fetchone() is None:  # on PostgreSQL the row lock waits for a closing under way
        tx.execute("SELECT state FROM {t:needs} WHERE need_kind = ? AND need_id = ?",
                   (kind, need_id))  # fmt: skip
        row = tx.fetchone()
        raise NeedNotOpenError(NeedKind(kind), UUID(need_id), row["state"] if row else "gone")
    for match_id in made:
        add_match(tx, kind, need_id, str(match_id))


def _best_of(unit_id: str | None, matches: list[Match]) -> Match | None:
    """The claiming unit's best-scored open proposal for the need: the one its claim takes."""
    mine = [m for m in matches if m.unit_id == unit_id and m.state in OPEN]
    return max(mine, key=lambda m: (m.score, str(m.id)), default=None)


def _listing_gone(match: Match, stamp: Stamp) -> None:
    match.close(CloseReason.LISTING_GONE, stamp)


def _forget_change(tx: Cursor, change_id: int) -> None:
    tx.execute("DELETE FROM {t:need_changes} WHERE id = ?", (change_id,))
