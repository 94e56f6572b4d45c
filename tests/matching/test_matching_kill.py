"""`kill -9` of a real `shiliu serve matching` process, again and again, while it consumes the
wishes the tickets service publishes to a real nats-server and proposes for them (and while
units claim some of them in tickets): each restart goes on from its own store, and in the end
every wish has its proposals exactly once, every claim is followed once, and every proposal
is on matching's stream once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import nats
import orjson
from fastapi.testclient import TestClient

from events.topology import MATCHING_STREAM
from services.runtime.nats_server import free_port
from services.runtime.settings import BusSettings
from tests.conftest import demo_territory, eventually, master_key
from tests.support.matching import STAFF
from tests.support.tokens import auth_settings
from tests.tickets.helpers import RESIDENT, posting, unit
from tests.tickets.helpers import STAFF as TICKETS_STAFF

ROUNDS = 4
PER_ROUND = 40
WISHES = ROUNDS * PER_ROUND
UNITS = ("unit-a", "unit-b")
CLAIMED = 10
"""Wishes claimed in tickets while matching is down (by unit-a)."""
MEALS = {"category": "meals", "title": "爱心午餐"}


def _matching(bus: BusSettings, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "shiliu"), "serve", "matching"],
        env={**os.environ, **env, "SHILIU_MATCHING_BUS__URL": bus.url},
        stdout=subprocess.DEVNULL, stderr=log.open("ab"),
    )  # fmt: skip


def _ready(url: str) -> dict[str, Any] | None:
    try:
        answer = httpx.get(f"{url}/health/ready", timeout=2)
    except httpx.HTTPError:
        return None
    body: dict[str, Any] = answer.json()
    return body if answer.status_code == 200 else None


def _mark(url: str) -> int:
    found = _ready(url)
    if found is None:
        return -1
    return int(found["feeds"]["matching-wishes"]["marks"].get("tickets.wish", 0))


def _post_wishes(tickets: TestClient, wishes: list[str], count: int) -> None:
    """Post and verify `count` wishes in tickets, one after another, noting their ids."""
    for _ in range(count):
        posted = tickets.post("/wishes", json=posting(), headers=RESIDENT)
        wish_id: str = posted.json()["wish"]["id"]
        tickets.post(f"/wishes/{wish_id}/verification", headers=TICKETS_STAFF).raise_for_status()
        wishes.append(wish_id)


def _progress(url: str) -> tuple[int, int]:
    """The wish feed's mark and how many proposals matching's store holds (each kill comes
    after one of them moved)."""
    made = 0
    with httpx.Client(base_url=url, headers=STAFF, timeout=10) as matching:
        for offset in range(0, 10 * WISHES, 200):
            where: dict[str, Any] = {"district": "jinfeng", "community": "c01", "offset": offset,
                                     "limit": 200}  # fmt: skip
            try:
                page = matching.get("/matches", params=where)
            except httpx.HTTPError:
                return (-1, -1)
            if page.status_code != 200:
                return (-1, -1)
            made += len(page.json())
            if len(page.json()) < 200:
                break
    return (_mark(url), made)


async def _proposed_on_the_stream(bus: BusSettings) -> Counter[str]:
    """How many times each proposal's event id is on matching's stream."""
    client = await nats.connect(bus.url)
    try:
        js = client.jetstream()
        info = await js.stream_info(MATCHING_STREAM.name)
        seen: Counter[str] = Counter()
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(MATCHING_STREAM.name, sequence)
            if str(message.subject).endswith("match.proposed"):
                seen[orjson.loads(message.data or b"{}")["event_id"]] += 1
        return seen
    finally:
        await client.close()


def test_matching_killed_again_and_again_proposes_for_each_wish_once_and_follows_each_claim(
    tickets: TestClient, bus: BusSettings, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "SHILIU_MATCHING_STORE__SQLITE_PATH": str(tmp_path / "matching.sqlite"),
        "SHILIU_MATCHING_PORT": str(port), "SHILIU_MATCHING_MASTER_KEY": master_key(),
        "SHILIU_MATCHING_TERRITORY_FILES": orjson.dumps([str(demo_territory())]).decode(),
        "SHILIU_MATCHING_AUTH__PUBLIC_KEY_FILE": str(auth_settings().public_key_file),
        "SHILIU_MATCHING_POLL_SECONDS": "0.05", "SHILIU_MATCHING_MATCHMAKER_SECONDS": "0.2",
    }  # fmt: skip
    log = tmp_path / "matching.log"
    process = _matching(bus, env, log)
    try:
        eventually(lambda: _ready(url) is not None, timeout=60)
        with httpx.Client(base_url=url, headers=STAFF, timeout=10) as matching:
            for unit_id in UNITS:
                body = {"unit_id": unit_id, "name": unit_id, "kind": "company",
                        "district": "jinfeng", "community": "c01"}  # fmt: skip
                matching.post("/units", json=body).raise_for_status()
                matching.post(f"/units/{unit_id}/alliance").raise_for_status()
                offer = {"side": "offer", "unit_id": unit_id, "district": "jinfeng",
                         "community": "c01", "terms": MEALS}  # fmt: skip
                matching.post("/listings", json=offer).raise_for_status()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    wishes: list[str] = []
    kills: list[tuple[int, int]] = []
    """(proposals made, proposals due for the wishes posted by the end of that round)."""
    for round_number in range(ROUNDS):  # wishes arrive while it runs; killed mid-way
        process = _matching(bus, env, log)
        try:
            eventually(lambda: _mark(url) >= 0, timeout=60)
            before = _progress(url)[1]
            poster = threading.Thread(target=_post_wishes, args=(tickets, wishes, PER_ROUND))
            poster.start()
            eventually(lambda before=before: _progress(url)[1] > before, timeout=30)  # type: ignore[misc]
            made = _progress(url)[1]
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        poster.join(timeout=120)
        kills.append((made, len(UNITS) * len(wishes)))
        if round_number == 1:  # claims made while matching is down
            for wish_id in wishes[:CLAIMED]:
                claimed = tickets.post(f"/wishes/{wish_id}/claims", json={"unit_id": "unit-a"},
                                       headers=unit("unit-a"))  # fmt: skip
                assert claimed.status_code == 201, claimed.text
    head = 2 * len(wishes) + CLAIMED  # posted and verified, each on the wish feed; the claims

    process = _matching(bus, env, log)
    try:
        eventually(lambda: _mark(url) == head, timeout=90)
        with httpx.Client(base_url=url, headers=STAFF, timeout=10) as matching:

            def all_followed() -> list[dict[str, Any]] | None:
                found: list[dict[str, Any]] = []
                for offset in range(0, 4 * WISHES, 200):
                    where: dict[str, Any] = {"district": "jinfeng", "community": "c01",
                                             "offset": offset}  # fmt: skip
                    found += matching.get("/matches", params={**where, "limit": 200}).json()
                by_wish = Counter(m["need_id"] for m in found)
                agreed = [m for m in found if m["state"] == "agreed"]
                done = all(by_wish[w] == len(UNITS) for w in wishes) and len(agreed) == CLAIMED
                return found if done else None

            found = eventually(all_followed, timeout=60)
        assert len(found) == len(UNITS) * WISHES
        assert len({(m["need_id"], m["listing_id"]) for m in found}) == len(found)
        states = {w: sorted((m["unit_id"], m["state"]) for m in found if m["need_id"] == w)
                  for w in wishes}  # fmt: skip
        for wish_id in wishes[:CLAIMED]:
            assert states[wish_id] == [("unit-a", "agreed"), ("unit-b", "closed")]
        for wish_id in wishes[CLAIMED:]:
            assert states[wish_id] == [("unit-a", "proposed"), ("unit-b", "proposed")]
        ready = _ready(url)
        assert ready is not None
        assert ready["parked"] == 0, log.read_text(errors="replace")[-3000:]
        on_the_stream = eventually(
            lambda: (seen := asyncio.run(_proposed_on_the_stream(bus)))
            and sum(seen.values()) >= len(found) and seen,
            timeout=30,
        )  # fmt: skip
        assert set(on_the_stream.values()) == {1}
        assert len(on_the_stream) == len(found)
    finally:
        process.kill()
        process.wait(timeout=30)
    mid_way = [made for made, due in kills if 0 < made < due]
    assert len(mid_way) >= 2, kills  # killed mid-way through proposing, more than once
