"""The tickets service's one store of record: every aggregate of its three peers (wishes,
ticketing, mediation), its territories and rulebooks, idempotency receipts, and — beside the
events, in the same database — the sealed personal data."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import JSONTranscoder, Transcoding

from services.runtime.database import create_table
from services.runtime.personal import PersonalDataVault
from services.runtime.place import PLACE_AND_STAMP, Clock, utc_now
from services.runtime.stamping import StampedCommands
from services.tickets.atlas import Atlas


class TicketsStore(Application[UUID]):
    """The eventsourcing application every peer's commands save to; the peers bring the
    transcodings of what their events carry and how often their aggregates are snapshotted."""

    name = "tickets"  # stored data: it names the tables (`tickets_events`, …)
    is_snapshotting_enabled = True

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        transcodings: Sequence[Transcoding] = (),
        snapshotting_intervals: Mapping[type[MutableOrImmutableAggregate[Any]], int] | None = None,
        vault: Callable[[Application[UUID]], PersonalDataVault] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._transcodings = (*PLACE_AND_STAMP, *transcodings)
        # The library reads the intervals from the instance; the peers name their aggregates.
        self.snapshotting_intervals = dict(snapshotting_intervals or {})  # type: ignore[misc]
        super().__init__(dict(env))
        self.clock = clock
        self.vault = vault(self) if vault else None
        self.listeners: list[Callable[[], None]] = []
        """Told after every save (the local views read on at once)."""
        self.commands = StampedCommands(self, clock, self.vault)
        self.commands.listeners = self.listeners
        self.atlas = Atlas(self)
        """The districts' territories and rulebooks, kept in this store."""

    def create_tables(self) -> None:
        """The events', snapshots' and vault's tables, when they are missing: at the service's
        start, never at construction (the environment says `CREATE_TABLE=n`)."""
        create_table(self.recorder)
        if self.snapshots is not None:
            create_table(self.snapshots.recorder)
        if self.vault is not None:
            self.vault.create_tables()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in self._transcodings:
            transcoder.register(transcoding)
