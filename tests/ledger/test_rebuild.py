"""The ledger rebuilt from scratch off the stream equals the live one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from services.ledger.main import Ledger, LedgerSettings
from services.ledger.rebuild import replay_into
from services.runtime.settings import BusSettings, StoreSettings
from tests.conftest import eventually
from tests.tickets.helpers import in_community, posting


def test_a_ledger_rebuilt_from_the_stream_equals_the_live_ledger(
    tickets: TestClient, ledger: TestClient, bus: BusSettings, tmp_path: Path
) -> None:
    for i, community in enumerate(["c01", "c01", "c02"]):
        actors = in_community(community)
        body = posting(community=community, claim_mode="joint", quota=2)
        wish_id = tickets.post("/wishes", json=body, headers=actors["resident"]).json()["wish"][
            "id"
        ]
        tickets.post(f"/wishes/{wish_id}/verification", headers=actors["staff"]).raise_for_status()
        for u in ("a", "b", "c")[: i + 1]:
            tickets.post(f"/wishes/{wish_id}/claims", json={"unit_id": u}, headers=actors[u])
        if i == 0:
            tickets.post(f"/wishes/{wish_id}/claims/a/release", json={"reason": "other"},
                         headers=actors["a"]).raise_for_status()  # fmt: skip
    head = tickets.get("/ops/relay").json()["head"]
    eventually(lambda: tickets.get("/ops/relay").json()["published"] == head)
    live: Ledger = ledger.app.state.ledger  # type: ignore[attr-defined]
    eventually(lambda: live.ledger.position("tickets") >= head - 3)  # receipts are not published

    rebuilt = Ledger(
        LedgerSettings(store=StoreSettings(sqlite_path=tmp_path / "rebuilt.sqlite"), consume=False)
    )
    try:
        applied, skipped = asyncio.run(replay_into(rebuilt.ledger, bus))
        assert skipped == 0
        assert applied == 3 + 3 + 6 + 1  # posted, verified, claims/refusals, release
        assert rebuilt.ledger.dump() == live.ledger.dump()
        assert rebuilt.ledger.community("jinfeng", "c01") == live.ledger.community("jinfeng", "c01")
    finally:
        rebuilt.close()
