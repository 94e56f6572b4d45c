"""Write the stored store afresh: `python -m tests.stored.write_store` (on purpose only — the
committed store stands for what an earlier release wrote; see `scenario.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from services.runtime.bus import provision
from services.runtime.nats_server import EmbeddedNats, free_port
from services.runtime.settings import BusSettings
from services.tickets.main import create_app
from shiliu.demo import district_plan
from tests.stored.scenario import (
    EXPECTED,
    FEEDS,
    STORE,
    TERRITORY,
    answers,
    replayed,
    settings,
    write_history,
)
from tests.tickets.helpers import OPERATOR


def _published_everything(client: TestClient) -> bool:
    status: dict[str, Any] = client.get("/ops/relay", headers=OPERATOR).json()
    return bool(status["lag"] == 0 and status["parked"] == 0)


def write_territory() -> None:
    """The demo district with street s01 holding only community c01."""
    plan = district_plan()
    street = next(s for s in plan.streets if s.code == "s01")
    c01 = [c for c in street.communities if c.code == "c01"]
    small = plan.model_copy(update={"streets": [street.model_copy(update={"communities": c01})]})
    TERRITORY.write_text(small.model_dump_json(indent=1) + "\n", encoding="utf-8")


def main() -> None:
    write_territory()
    folder = Path(tempfile.mkdtemp(prefix="shiliu-stored-"))
    server = EmbeddedNats(folder / "nats", port=free_port())
    server.start()
    try:
        bus = BusSettings(url=server.url)
        asyncio.run(provision(bus))
        store = folder / "tickets.sqlite"
        with TestClient(create_app(settings(bus, store, folder))) as client:
            ids = write_history(client)
            deadline = time.monotonic() + 60
            while not _published_everything(client) and time.monotonic() < deadline:
                time.sleep(0.1)
            written_at = datetime.now(UTC)
            expected: dict[str, Any] = {
                "written_by": subprocess.check_output(
                    ["git", "rev-parse", "HEAD"], text=True
                ).strip(),
                "written_at": written_at.isoformat(),
                "ids": ids,
                "answers": answers(client, ids),
                "feeds": replayed(bus),
            }
        with contextlib.closing(sqlite3.connect(store)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("VACUUM")
        shutil.copyfile(store, STORE)
        EXPECTED.write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n",
                            encoding="utf-8")  # fmt: skip
        heads = {feed: expected["feeds"][feed]["head"] for feed in FEEDS}
        print(f"wrote {STORE} ({STORE.stat().st_size} bytes) and {EXPECTED}: {heads}")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
