"""The ledger rebuilt from scratch off the stream equals the live one, every book."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from events.access import LEDGER_USER
from services.ledger.main import Ledger, LedgerSettings
from services.ledger.rebuild import rebuild_from_sources, rebuild_from_stream
from services.runtime.settings import BusSettings, StoreSettings
from shiliu.cli import app as cli
from tests.conftest import eventually
from tests.ledger.builders import Log, settled
from tests.ledger.faults import (
    Bus,
    forged_wish,
    ledger_on,
    live_ledger_env,
    publish_raw,
    published_head,
    tickets_on,
)
from tests.support.units import enrol
from tests.tickets.helpers import RESIDENT, community_unit, in_community, posting, street_of
from tests.tickets.mediation.dispute_cases import new_dispute
from tests.tickets.ticketing.ticket_helpers import dispatched, handler, step


def _tickets_and_disputes(tickets: TestClient) -> None:
    """A ticket resolved with money, one merely dispatched, and a dispute with an agreement."""
    unit = handler("unit-a")
    ticket_id = dispatched(tickets)
    step(tickets, ticket_id, "acceptance", {"handler_id": "unit-a"}, unit)
    step(tickets, ticket_id, "resolution", {"handler_id": "unit-a", "amount": "35.5"}, unit)
    dispatched(tickets, category="lighting")
    new_dispute(tickets, "agreed")


def _some_of_everything(tickets: TestClient) -> None:
    roster = tickets.app.state.tickets.units  # type: ignore[attr-defined]
    enrol(roster, [community_unit("c02", u) for u in ("a", "b", "c")], community="c02",
          street=street_of("c02"))  # fmt: skip
    for i, community in enumerate(["c01", "c01", "c02"]):
        actors = in_community(community)
        body = posting(community=community, claim_mode="joint", quota=2)
        wish_id = tickets.post("/wishes", json=body, headers=actors["resident"]).json()["wish"][
            "id"
        ]
        tickets.post(f"/wishes/{wish_id}/verification", headers=actors["staff"]).raise_for_status()
        for u in ("a", "b", "c")[: i + 1]:
            claim = {"unit_id": community_unit(community, u)}
            tickets.post(f"/wishes/{wish_id}/claims", json=claim, headers=actors[u])
        if i == 0:
            tickets.post(f"/wishes/{wish_id}/claims/a/release", json={"reason": "other"},
                         headers=actors["a"]).raise_for_status()  # fmt: skip
    _tickets_and_disputes(tickets)


@pytest.mark.parametrize("source", ["sources", "stream"])
def test_a_ledger_rebuilt_from_the_sources_or_the_stream_equals_the_live_ledger(
    tickets: TestClient, ledger: TestClient, bus: BusSettings, tmp_path: Path, source: str
) -> None:
    _some_of_everything(tickets)
    settled(tickets, bus, *LEDGER_USER.consumes)
    live: Ledger = ledger.app.state.ledger  # type: ignore[attr-defined]
    live_figures = live.ledger.tickets.community("jinfeng", "c01")
    assert (live_figures.tickets, live_figures.money_involved) == (2, "35.5")
    assert live.ledger.disputes.community("jinfeng", "c01").by_state["agreement_signed"] == 1
    wishes = live.status()["consumers"]["ledger-wishes"]
    assert wishes["applied"] == 3 + 3 + 6 + 1  # posted, verified, claims/refusals, release
    assert wishes["marks"] == {"tickets.wish": 13}

    rebuilt = Ledger(
        LedgerSettings(store=StoreSettings(sqlite_path=tmp_path / "rebuilt.sqlite"), consume=False)
    ).open()
    rebuild = rebuild_from_sources if source == "sources" else rebuild_from_stream
    try:
        result = asyncio.run(rebuild(rebuilt.ledger, live.ledger, bus))
        assert (result.skipped, result.missing) == (0, {})
        assert result.applied == live.status()["applied"]
        assert result.same
        assert rebuilt.ledger.dump() == live.ledger.dump()
        assert rebuilt.ledger.tickets.community("jinfeng", "c01") == live_figures
    finally:
        rebuilt.close()


def test_a_rebuild_into_an_existing_file_is_refused_so_a_forged_figure_cannot_pass_the_check(
    secured: Bus, stores: dict[str, StoreSettings], tmp_path: Path
) -> None:
    """Rebuilt into the live ledger's own file (or a file an earlier rebuild left, say one
    from the stream with a forgery in it), the rebuild started with the rows it was meant to
    check, applied nothing new and reported "equals": a forged figure passed."""
    live = stores["ledger"]
    with (
        tickets_on(secured, stores["tickets"]) as tickets,
        ledger_on(secured, live) as ledger,
    ):
        tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()
        assert published_head(tickets) == 1
        log = Log()
        log.position = log.sequence = 1
        asyncio.run(publish_raw(secured, forged_wish(log)))  # taken as number 2: applied
        eventually(lambda: ledger.get("/ledger/jinfeng/c01/wishes").json().get("wishes") == 2)

        def rebuild(into: Path) -> Any:
            return CliRunner().invoke(
                cli,
                ["rebuild-ledger", "--nats-url", secured.server.url, "--data-dir",
                 str(secured.data_dir), "--into", str(into)],
                env={**live_ledger_env(live), "COLUMNS": "400"},
            )  # fmt: skip

        assert live.sqlite_path is not None
        onto_live = rebuild(live.sqlite_path)
        earlier = tmp_path / "earlier.sqlite"
        earlier.write_bytes(b"")
        onto_earlier = rebuild(earlier)
        fresh = rebuild(tmp_path / "fresh.sqlite")

    assert onto_live.exit_code == 2, onto_live.output
    assert "already exists" in onto_live.output
    assert onto_earlier.exit_code == 2, onto_earlier.output
    assert fresh.exit_code == 1, fresh.output  # from the sources: the forgery shows
    assert "rebuild differs" in fresh.output
