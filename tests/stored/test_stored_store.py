"""A store written by an earlier release (`store.sqlite`, see `scenario.py`) still opens,
replays and relays exactly as it did when it was written: moving code never strands data."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID

import nats
from fastapi.testclient import TestClient
from nats.js.errors import NotFoundError

from events.subjects import subject_for
from events.topology import TICKETS_STREAM
from events.wishes import WishPosted
from services.runtime.settings import BusSettings
from services.tickets.main import Tickets, create_app
from tests.conftest import eventually
from tests.stored.scenario import EXPECTED, STORE, answers, replayed, settings, written_at
from tests.tickets.helpers import OPERATOR, RESIDENT, posting


def _stored_events(path: Path) -> list[tuple[str, int, str]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT originator_id, originator_version, topic FROM stored_events")
        return [
            (str(UUID(bytes=bytes(o)) if isinstance(o, bytes) else o), v, t) for o, v, t in rows
        ]


async def _last_on_stream(bus: BusSettings, subject: str) -> dict[str, Any] | None:
    client = await nats.connect(bus.url)
    try:
        message = await client.jetstream().get_last_msg(TICKETS_STREAM.name, subject)
    except NotFoundError:
        return None
    finally:
        await client.close()
    return {"headers": dict(message.headers or {}), "event": json.loads(message.data or b"")}


def test_a_store_written_by_an_earlier_release_opens_replays_and_relays_identically(
    bus: BusSettings, tmp_path: Path
) -> None:
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    store = tmp_path / "tickets.sqlite"
    shutil.copyfile(STORE, store)
    before = _stored_events(store)
    app = create_app(settings(bus, store, tmp_path), clock=lambda: written_at(expected))

    with TestClient(app) as client:
        # Opened with the files it was written with, it stores nothing new …
        assert client.get("/ops/relay", headers=OPERATOR).json()["head"] == len(before)
        # … every aggregate in it loads from its stored events …
        service: Tickets = client.app.state.tickets  # type: ignore[attr-defined]
        for originator_id in {UUID(o) for o, _, _ in before}:
            service.store.repository.get(originator_id)
        # … it answers as it did, and replays every feed to a consumer as it did.
        assert answers(client, expected["ids"]) == expected["answers"]
        assert replayed(bus) == expected["feeds"]

        # The relay goes on numbering each feed from where the store left it.
        wish_head = expected["feeds"]["tickets.wish"]["head"]
        posted = client.post("/wishes", json=posting(), headers=RESIDENT)
        assert posted.status_code == 201, posted.text
        new = eventually(lambda: replayed(bus)["tickets.wish"]["events"][wish_head:], timeout=20)
        assert [(e["wish_id"], e["sequence"]) for e in new] == [
            (posted.json()["wish"]["id"], wish_head + 1)
        ]
        subject = subject_for(WishPosted.model_validate(new[0]))
        on_stream = eventually(lambda: asyncio.run(_last_on_stream(bus, subject)), timeout=20)
        assert on_stream["event"] == new[0]
    assert _stored_events(store)[: len(before)] == before
