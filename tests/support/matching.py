"""The matching service in tests: its settings, its staff, and units registered over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from events.envelope import Actor, IntegrationEvent, Role, Territory
from events.tickets import TicketClosed, TicketTriaged
from events.wishes import WishClaimed, WishClaimReleased, WishPosted, WishVerified
from services.matching.main import MatchingSettings
from services.runtime.intake import Delivery
from services.runtime.outbox import encode
from services.runtime.settings import BusSettings, StoreSettings
from tests.support.tokens import auth_settings, bearer

STAFF = bearer("staff-1", "community_staff", scope={"district": "jinfeng", "street": "s01",
                                                    "community": "c01"})  # fmt: skip
C09_STAFF = bearer("staff-c09", "community_staff", scope={"district": "jinfeng", "street": "s01",
                                                         "community": "c09"})  # fmt: skip
"""Staff of c09, a neighbour of c01 in street s01 (a street-reach offer of c01 serves it)."""
AWAY_STAFF = bearer("staff-2", "community_staff", scope={"district": "jinfeng", "street": "s01",
                                                         "community": "c02"})  # fmt: skip


def unit_staff(unit_id: str) -> dict[str, str]:
    return bearer(f"{unit_id}-staff", "unit_staff", unit=unit_id,
                  scope={"district": "jinfeng", "street": "s01", "community": "c01"})  # fmt: skip


def matching_settings(bus: BusSettings, store: StoreSettings, **extra: Any) -> MatchingSettings:
    from tests.conftest import demo_territory, master_key

    extra.setdefault("territory_files", [demo_territory()])
    extra.setdefault("matchmaker_seconds", 0.05)
    return MatchingSettings(
        store=store, bus=bus, master_key=master_key(), poll_seconds=0.05, auth=auth_settings(),
        **extra,
    )  # fmt: skip


def register(client: httpx.Client, unit_id: str, *, community: str = "c01", **extra: Any) -> Any:
    body = {"unit_id": unit_id, "name": f"{unit_id} 公司", "kind": "company",
            "district": "jinfeng", "community": community, **extra}  # fmt: skip
    response = client.post("/units", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def enrolled(client: httpx.Client, unit_id: str, **extra: Any) -> Any:
    register(client, unit_id, **extra)
    response = client.post(f"/units/{unit_id}/alliance")
    assert response.status_code == 200, response.text
    return response.json()


class Feeds:
    """The tickets service's wish and ticket feeds as matching's consumers would receive
    them: numbered on per feed, settled by matching's own intakes."""

    def __init__(self, client: TestClient | FastAPI) -> None:
        app: Any = client if isinstance(client, FastAPI) else client.app
        self.matching = app.state.matching
        marks = {**self.matching.needs[0].intake.marks(), **self.matching.needs[1].intake.marks()}
        self.numbers = {feed: marks.get(feed, 0) for feed in ("tickets.wish", "tickets.ticket")}

    def _event(
        self, cls: type[IntegrationEvent], feed: str, where_grid: str | None, *,
        community: str = "c01", **fields: Any,
    ) -> Any:  # fmt: skip
        """An event of the feed at a place of street s01 (c01, or another of its communities)."""
        self.numbers[feed] += 1
        now = datetime.now(UTC)
        where = Territory(district="jinfeng", street="s01", community=community, grid=where_grid)
        return cls.model_validate({
            "event_id": uuid4(), "occurred_at": now, "recorded_at": now, "territory": where,
            "actor": Actor(id="staff-1", role=Role.COMMUNITY_STAFF), "source": "tickets",
            "position": self.numbers[feed], "sequence": self.numbers[feed], **fields,
        })  # fmt: skip

    def _settle(self, index: int, events: list[Any]) -> None:
        deliveries = [Delivery.replayed(e, encode(e)) for e in events]
        self.matching.needs[index].intake.settle(deliveries)
        self.matching.matchmaking.wake()

    def open_wish(self, *, category: str = "meal", quota: int = 1, grid: str = "g01") -> UUID:
        wish_id = uuid4()
        mode = "exclusive" if quota == 1 else "joint"
        self._settle(0, [
            self._event(WishPosted, "tickets.wish", grid, wish_id=wish_id, resident_id="p-1",
                        title="热饺子", category=category, claim_mode=mode, quota=quota),
            self._event(WishVerified, "tickets.wish", grid, wish_id=wish_id),
        ])  # fmt: skip
        return wish_id

    def claim(self, wish_id: UUID, unit_id: str, *, claimants: int = 1, quota: int = 1) -> None:
        mode = "exclusive" if quota == 1 else "joint"
        self._settle(0, [self._event(WishClaimed, "tickets.wish", "g01", wish_id=wish_id,
                                     unit_id=unit_id, claim_mode=mode, claimants=claimants,
                                     quota=quota)])  # fmt: skip

    def release(self, wish_id: UUID, unit_id: str) -> None:
        self._settle(0, [self._event(WishClaimReleased, "tickets.wish", "g01", wish_id=wish_id,
                                     unit_id=unit_id, reason="other", claimants=0)])  # fmt: skip

    def triaged_ticket(
        self, *, category: str = "parking", grid: str = "g01", community: str = "c01"
    ) -> UUID:
        ticket_id = uuid4()
        self._settle(1, [self._event(TicketTriaged, "tickets.ticket", grid, community=community,
                                     ticket_id=ticket_id,
                                     category=category, grid=grid, rule_version=1, level="grid",
                                     handler_kind="unit")])  # fmt: skip
        return ticket_id

    def closed_ticket(self, ticket_id: UUID, *, grid: str = "g01") -> None:
        self._settle(1, [self._event(TicketClosed, "tickets.ticket", grid, ticket_id=ticket_id,
                                     outcome="fixed")])  # fmt: skip

    def retriage(self, ticket_id: UUID, *, category: str, grid: str = "g01") -> None:
        """The ticket triaged again, into another category."""
        self._settle(1, [self._event(TicketTriaged, "tickets.ticket", grid, ticket_id=ticket_id,
                                     category=category, grid=grid, rule_version=1, level="grid",
                                     handler_kind="unit")])  # fmt: skip


def offer(
    client: httpx.Client, unit_id: str | None, terms: dict[str, Any], *, grid: str | None = None
) -> str:
    body = {"side": "offer", "unit_id": unit_id, "district": "jinfeng", "community": "c01",
            "grid": grid, "terms": terms}  # fmt: skip
    response = client.post("/listings", json=body)
    assert response.status_code == 201, response.text
    listing_id: str = response.json()["listing"]["listing_id"]
    return listing_id


def proposals(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/matches", params={"district": "jinfeng", "community": "c01", **params})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def proposals_for(client: httpx.Client, need_id: Any) -> list[dict[str, Any]]:
    """The community's proposals and matches for one need."""
    return [p for p in proposals(client) if p["need_id"] == str(need_id)]


def caught_up(client: TestClient) -> None:
    """Wait until matching's views have applied everything its store holds (read your writes,
    as a page would by waiting for the answer's position)."""
    from tests.conftest import eventually

    matching = client.app.state.matching  # type: ignore[attr-defined]
    head = matching.store.recorder.max_notification_id() or 0
    views = (matching.view, matching.matches_view)

    def done() -> bool:
        for view in views:
            view.wake()
        return all(view.positions.load(view.name) >= head for view in views)

    assert eventually(done)
