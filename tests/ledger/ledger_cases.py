"""The policy matrix's cases for the ticket and dispute ledger endpoints (one per endpoint).

The matrix seeds a wish at c01 first, so the ledger knows c01's street even before a ticket or
dispute exists there; the district listings seed their own item once per tickets app and wait
until the ledger has applied it, since a listing shows only communities with rows.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from events.topology import LEDGER_DISPUTES, LEDGER_TICKETS, ConsumerSpec
from tests.ledger.builders import settled
from tests.support.matrix import Case
from tests.tickets.mediation.dispute_cases import new_dispute
from tests.tickets.ticketing.ticket_helpers import received

_SEEDED: dict[str, weakref.WeakSet[FastAPI]] = {"tickets": weakref.WeakSet(),
                                                 "disputes": weakref.WeakSet()}  # fmt: skip
_SEEDS: dict[str, tuple[Callable[[TestClient], Any], ConsumerSpec]] = {
    "tickets": (received, LEDGER_TICKETS),
    "disputes": (new_dispute, LEDGER_DISPUTES),
}


def _community(book: str) -> Callable[[TestClient], dict[str, Any]]:
    return lambda _: {"url": f"/ledger/jinfeng/c01/{book}", "json": None}


def _district(book: str) -> Callable[[TestClient], dict[str, Any]]:
    def prepare(tickets: TestClient) -> dict[str, Any]:
        app = tickets.app
        assert isinstance(app, FastAPI)
        seed, spec = _SEEDS[book]
        if app not in _SEEDED[book]:
            seed(tickets)
            settled(tickets, app.state.tickets.settings.bus, spec)
            _SEEDED[book].add(app)
        return {"url": f"/ledger/jinfeng/{book}", "json": None}

    return prepare


LEDGER_CASES: list[Case] = [
    Case("GET", "/ledger/{district}/{community}/tickets", "ledger.read", _community("tickets"),
         "ledger"),
    Case("GET", "/ledger/{district}/tickets", "ledger.read", _district("tickets"), "ledger",
         filtered=True),
    Case("GET", "/ledger/{district}/{community}/disputes", "ledger.read", _community("disputes"),
         "ledger"),
    Case("GET", "/ledger/{district}/disputes", "ledger.read", _district("disputes"), "ledger",
         filtered=True),
    Case("GET", "/ledger/{district}/{community}/visits", "ledger.read", _community("visits"),
         "ledger"),
]  # fmt: skip
