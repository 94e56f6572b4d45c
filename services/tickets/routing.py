"""Service categories and their routing rules, versioned with effective dates.

A rule says which kind of handler takes a category at which level of the territory, how long
the handler has to accept and to resolve, and how long each higher level has once a deadline
is breached. Every ticket records the rule version it was triaged under and keeps to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from events.envelope import Code
from events.tickets import HandlerKind, Level

_NAMESPACE = uuid5(NAMESPACE_URL, "https://shiliu.invalid/rulebook")
LADDER = (Level.GRID, Level.COMMUNITY, Level.STREET, Level.DISTRICT)
DEFAULT_RULES = Path(__file__).parent / "rules" / "default.json"


class RoutingError(Exception):
    code = "routing.error"


class UnknownCategoryError(RoutingError):
    code = "routing.unknown_category"

    def __init__(self, category: str, version: int) -> None:
        super().__init__(f"category: {category} is not in routing rules version {version}")
        self.field = "category"


class NoRulesError(RoutingError):
    code = "routing.no_rules"

    def __init__(self, when: datetime) -> None:
        super().__init__(f"no routing rules are in effect at {when.isoformat()}")


class Names(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: Annotated[str, Field(min_length=1, max_length=40)]
    en: Annotated[str, Field(min_length=1, max_length=80)]


class CategoryRule(BaseModel):
    """How one service category is routed and how long each step may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: Names
    description: Annotated[str, Field(max_length=300)] = ""
    group: Annotated[str, Field(max_length=40)] = "community"
    handler_kind: HandlerKind
    level: Level = Level.GRID
    accept_within: timedelta
    resolve_within: timedelta
    warn_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.8
    """The warning comes when this share of a deadline's window has passed."""
    escalate_within: dict[Level, timedelta]
    """Time to resolve at each higher level after a breach below it."""

    @model_validator(mode="after")
    def _every_higher_level_has_a_deadline(self) -> CategoryRule:
        higher = LADDER[LADDER.index(self.level) + 1 :]
        missing = [level.value for level in higher if level not in self.escalate_within]
        if missing:
            msg = f"escalate_within needs a time for {', '.join(missing)}"
            raise ValueError(msg)
        return self

    def next_level(self, level: Level) -> Level | None:
        index = LADDER.index(level)
        return LADDER[index + 1] if index + 1 < len(LADDER) else None


class RuleVersion(BaseModel):
    """One version of the rulebook, in force from `effective_from` until the next."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[int, Field(ge=1)]
    effective_from: AwareDatetime
    categories: Annotated[list[CategoryRule], Field(min_length=1)]

    def rule(self, category: str) -> CategoryRule:
        for rule in self.categories:
            if rule.code == category:
                return rule
        raise UnknownCategoryError(category, self.version)


class RulebookFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    versions: Annotated[list[RuleVersion], Field(min_length=1)]

    @classmethod
    def load(cls, path: Path) -> RulebookFile:
        return cls.model_validate_json(path.read_bytes())


def rulebook_id(district: str) -> UUID:
    return uuid5(_NAMESPACE, district)


class Rulebook(Aggregate):
    """A district's routing rules, every version ever published."""

    @staticmethod
    def create_id(district: str) -> UUID:
        return rulebook_id(district)

    @event("Opened")
    def __init__(self, district: str) -> None:
        self.district = district
        self.versions: list[dict[str, Any]] = []

    def publish(self, version: RuleVersion) -> None:
        """Publish a new version; an identical republication is ignored."""
        known = {v["version"]: v for v in self.versions}
        data = version.model_dump(mode="json")
        if version.version in known:
            if known[version.version] != data:
                msg = f"rule version {version.version} was published with other content"
                raise RoutingError(msg)
            return
        self._published(version=data)

    def in_effect(self, when: datetime) -> RuleVersion:
        candidates = [v for v in self._parsed() if v.effective_from <= when]
        if not candidates:
            raise NoRulesError(when)
        return max(candidates, key=lambda v: (v.effective_from, v.version))

    def numbered(self, number: int) -> RuleVersion:
        for v in self._parsed():
            if v.version == number:
                return v
        msg = f"no rule version {number}"
        raise RoutingError(msg)

    def _parsed(self) -> list[RuleVersion]:
        return [RuleVersion.model_validate(v) for v in self.versions]

    @event("Published")
    def _published(self, version: dict[str, Any]) -> None:
        self.versions = [*self.versions, version]
