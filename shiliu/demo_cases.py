"""Demo tickets and disputes, seeded through the tickets service's HTTP API like the wishes.

Every demo command carries an `Idempotency-Key` fixed by the demo record it belongs to and
its path, and every random choice comes from a generator seeded per record: seeding again
after a crash in the middle answers the commands already done with their first answers and
does only the rest, so the demo district ends the same as after one clean seeding.
"""

from __future__ import annotations

import asyncio
import functools
import random
from typing import Any

import httpx

from events.envelope import Role

TICKETS = (
    ("楼道飞线充电", "flying_wire_charging"),
    ("快递柜坏了取不出件", "parcel_lockers"),
    ("顶楼屋顶漏水", "roof_leak"),
    ("小区雨后积水", "drainage"),
    ("单元楼道灯不亮", "lighting"),
    ("电梯困人", "elevator"),
    ("消防通道被占用停车", "parking"),
    ("夜间广场舞噪音", "noise"),
    ("独居老人需要助餐", "elderly_care"),
)
CHANNELS = ("web", "phone", "chat_group", "walk_in")
HANDLERS = {"unit": "unit", "volunteer_team": "team", "grid_worker": "gw", "department": "dept"}


RATE_LIMITED_TRIES = 20
"""A demo actor past its rate limit waits as told (`Retry-After`) and tries again."""


async def post(
    client: httpx.AsyncClient, record: str, path: str, headers: dict[str, str], body: Any,
    *, key: str | None = None,
) -> Any:  # fmt: skip
    """POST one demo command, keyed by its demo `record` and `key` (the `path` unless given;
    past the first command, it holds the record's id)."""
    keyed = {**headers, "Idempotency-Key": f"demo:{record}:{key or path}"}
    response = await client.post(path, json=body, headers=keyed)
    for _ in range(RATE_LIMITED_TRIES):
        if response.status_code != 429:
            break
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
        response = await client.post(path, json=body, headers=keyed)
    response.raise_for_status()
    return response.json()


async def seed_ticket(
    client: httpx.AsyncClient, headers: Any, where: dict[str, str], n: int, rng: random.Random
) -> None:
    """One ticket at a random step of its lifecycle; some proactive (未诉先办)."""
    title, category = rng.choice(TICKETS)
    proactive = rng.random() < 0.2
    resident = f"resident-{where['community']}-t{n}"
    body = {
        **where,
        "building": f"b{rng.randint(1, 40):03d}",
        "title": title,
        "channel": "grid_patrol" if proactive else rng.choice(CHANNELS),
        "proactive": proactive,
        "requester_id": None if proactive else resident,
    }
    staff = headers(Role.COMMUNITY_STAFF, "staff")
    act = functools.partial(post, client, f"{where['community']}-t{n}")
    ticket = (await act("/tickets", staff, body))["ticket"]
    path, progress = f"/tickets/{ticket['id']}", rng.randint(0, 6)
    if progress < 1:
        return
    triaged = (await act(f"{path}/triage", staff, {"category": category}))["ticket"]
    if progress < 2:
        return
    unit = f"{HANDLERS[triaged['handler_kind']]}-{where['community']}-{rng.randint(1, 4)}"
    await act(f"{path}/dispatch", staff, {"handler_id": unit})
    handler = headers(Role.UNIT_STAFF, f"{unit}-staff", unit=unit)
    mine = {"handler_id": unit}
    for step, needed in (("acceptance", 3), ("work", 4)):
        if progress < needed:
            return
        await act(f"{path}/{step}", handler, mine)
    if progress < 5:
        return
    amount = str(rng.choice([0, 200, 1500, 12000])) if rng.random() < 0.4 else None
    await act(f"{path}/resolution", handler, {**mine, "amount": amount})
    await act(f"{path}/verification", staff, {"passed": True})
    if progress >= 6 and not proactive:
        resident_headers = headers(Role.RESIDENT, resident, person=resident)
        await act(f"{path}/rating", resident_headers, {"rating": rng.randint(3, 5)})


async def seed_dispute(
    client: httpx.AsyncClient, headers: Any, where: dict[str, str], n: int, rng: random.Random
) -> None:
    """One neighbour or family dispute, mediated as far as a random step."""
    parties = [
        {"person_id": f"party-{where['community']}-{k}", "name": name}
        for k, name in enumerate(rng.sample(["王秀兰", "马晓梅", "李建国", "古丽娜尔"], 2))
    ]
    staff = headers(Role.COMMUNITY_SECRETARY, "secretary")
    body = {
        **where,
        "kind": rng.choice(["neighbour", "family", "property_management"]),
        "parties": parties,
        "summary": "楼上漏水到楼下，协商未果",
    }
    act = functools.partial(post, client, f"{where['community']}-d{n}")
    dispute = (await act("/disputes", staff, body))["dispute"]
    path = f"/disputes/{dispute['id']}"
    if rng.random() < 0.2:
        return
    await act(f"{path}/acceptance", staff, None)
    mediator = {"mediator_id": f"mediator-{where['community']}", "kind": "team_member"}
    await act(f"{path}/mediators", staff, mediator)
    for party in parties:
        await act(f"{path}/parties/{party['person_id']}/consent", staff, None)
    if rng.random() < 0.5:
        return
    await act(f"{path}/sessions", staff, {"mode": "in_person", "minutes": "双方陈述"})
    await act(f"{path}/agreement", staff, {"text": "维修费用双方各担一半"})
    await act(f"{path}/follow-ups", staff, {"holding": True})
