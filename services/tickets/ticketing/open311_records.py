"""Tickets and routing rules as GeoReport v2 records, and a request list's filters: what a
civic client sees of the tickets service (public fields only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.tickets.routing import CategoryRule
from services.tickets.ticketing.application import TicketSnapshot
from services.tickets.ticketing.domain import OPEN_STATES
from services.tickets.ticketing.open311_format import (
    Open311Error,
    listed,
    w3,
    w3_datetime,
    window,
)
from services.tickets.ticketing.view import TicketRow

UNTRIAGED = "untriaged"
"""The service code of a request not yet triaged (the specification requires a code on every
request). It is a service of its own, so a client may also leave the category to the
community."""
UNTRIAGED_NAME = "待分类"
UNTRIAGED_SERVICE: dict[str, Any] = {
    "service_code": UNTRIAGED, "service_name": UNTRIAGED_NAME,
    "description": "Not yet triaged: the community chooses the category", "metadata": False,
    "type": "realtime", "keywords": "Untriaged", "group": "community",
}  # fmt: skip
MAX_RESULTS = 1000
STATUSES = {"open": sorted(OPEN_STATES), "closed": ["closed", "closed_not_fixed", "merged"]}


def filters(get: Callable[[str], str | None], now: datetime) -> dict[str, Any]:
    statuses = set(listed("status", get("status")))
    if unknown := statuses - STATUSES.keys():
        raise Open311Error(400, f"status: {', '.join(sorted(unknown))[:40]} (open or closed)")
    start, end = (
        w3_datetime(name, value) if (value := get(name)) else None
        for name in ("start_date", "end_date")
    )
    start, end = window(start, end, now)
    states = STATUSES[statuses.pop()] if len(statuses) == 1 else []
    codes = listed("service_code", get("service_code"))
    return {"categories": [c for c in codes if c != UNTRIAGED], "untriaged": UNTRIAGED in codes,
            "states": states, "received_from": start, "received_until": end}  # fmt: skip


def service(rule: CategoryRule) -> dict[str, Any]:
    return {"service_code": rule.code, "service_name": rule.name.zh,
            "description": rule.description, "metadata": False, "type": "realtime",
            "keywords": rule.name.en, "group": rule.group}  # fmt: skip


def row_of(t: TicketSnapshot) -> TicketRow:
    return TicketRow(
        ticket_id=str(t.id), district=t.district, street=t.street, community=t.community,
        grid=t.grid, building=t.building, channel=t.channel.value, proactive=t.proactive,
        requester_id=t.requester_id,
        title=t.title, category=t.category, state=t.state.value, level=t.level,
        handler_id=t.handler_id, rule_version=t.rule_version,
        merged_into=str(t.merged_into) if t.merged_into else None,
        due_at=t.deadline.due_at if t.deadline else None, received_at=t.received_at,
        updated_at=t.updated_at,
    )  # fmt: skip


def service_request(row: TicketRow, names: dict[str, str]) -> dict[str, Any]:
    """A ticket as a GeoReport service request: public fields only."""
    level = {"grid": row.grid, "community": row.community, "street": row.street,
             "district": row.district}.get(row.level)  # fmt: skip
    place = [row.district, row.street, row.community, row.building]
    return {
        "service_request_id": row.ticket_id,
        "status": "open" if row.state in OPEN_STATES else "closed",
        "status_notes": row.state,
        "service_name": names.get(row.category or UNTRIAGED),
        "service_code": row.category or UNTRIAGED,
        "description": row.title,
        "agency_responsible": f"{row.level} {level}" if level else row.level,
        "service_notice": None,
        "requested_datetime": w3(row.received_at),
        "updated_datetime": w3(row.updated_at),
        "expected_datetime": w3(row.due_at),
        "address": "/".join(p for p in place if p),
        "address_id": f"{row.community}/{row.building}" if row.building else None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }
