"""The matching service's one store of record: the unit registry, both lists and, beside the
events in the same database, the units' sealed contacts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoding
from pydantic import BaseModel

from events.evaluations import Evidence
from events.listings import ListingTerms
from events.matches import Reason
from services.runtime.database import create_table
from services.runtime.personal import PersonalDataVault
from services.runtime.place import PLACE_AND_STAMP, Clock, utc_now
from services.runtime.stamping import StampedCommands


class DateAsIso(Transcoding):
    type = date
    name = "shiliu_date"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ModelAsJson(Transcoding):
    """A pydantic value (a listing's terms, a score's reason, evidence) stored as its JSON
    form under a `name` that is stored data (never renamed)."""

    def __init__(self, kind: type[BaseModel], name: str) -> None:
        self.type = kind
        self.kind = kind
        self.name = name

    def encode(self, obj: BaseModel) -> dict[str, Any]:
        return obj.model_dump(mode="json")

    def decode(self, data: dict[str, Any]) -> BaseModel:
        return self.kind.model_validate(data)


TRANSCODINGS: tuple[Transcoding, ...] = (
    *PLACE_AND_STAMP,
    DateAsIso(),
    ModelAsJson(ListingTerms, "shiliu_listing_terms"),
    ModelAsJson(Reason, "shiliu_match_reason"),
    ModelAsJson(Evidence, "shiliu_evidence"),
)


class MatchingStore(Application[UUID]):
    """The eventsourcing application every matching command saves to."""

    name = "matching"  # stored data: it names the tables (`matching_events`, …)
    is_snapshotting_enabled = True

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        vault: Callable[[Application[UUID]], PersonalDataVault] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(dict(env))
        self.clock = clock
        self.vault = vault(self) if vault else None
        self.listeners: list[Callable[[], None]] = []
        """Told after every save (the local views read on at once)."""
        self.commands = StampedCommands(self, clock, self.vault)
        self.commands.listeners = self.listeners

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
        for transcoding in TRANSCODINGS:
            transcoder.register(transcoding)
