"""A demo district shaped like Jinfeng: 68 communities in 8 streets, wishes in every state.

Seeded through the tickets service's own HTTP API, so the demo exercises the real path
(store, relay, bus, ledger), and idempotently: seeding again after a crash gives the same
district (see `demo_cases`). Residents come with made-up contact details (names, 139… phone
numbers, addresses), so the personal-data path is exercised too.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from events.envelope import Role
from services.runtime.identity import Claims, Scope, issue_token
from services.runtime.territory_plan import (
    BuildingPlan,
    CommunityPlan,
    DistrictPlan,
    GridPlan,
    StreetPlan,
)
from shiliu.demo_cases import post, seed_dispute, seed_ticket
from shiliu.demo_units import seed_units

DISTRICT = "jinfeng"
STREETS = 8
COMMUNITIES = 68
WISHES = (
    ("吃一顿热腾腾的饺子", "meal"),
    ("帮忙收拾一下家里", "housework"),
    ("为晚归的人点亮夜路", "lighting"),
    ("一台买菜用的公共三轮车", "goods"),
    ("陪老人聊聊天", "company"),
    ("修一修漏水的水龙头", "repair"),
    ("教孩子们写毛笔字", "learning"),
    ("测一次血压", "health"),
    ("陪同去医院复查", "mobility"),
)
SURNAMES = "王李张刘陈杨马赵黄周吴丁"
GIVEN_NAMES = ("秀兰", "建国", "桂英", "志强", "玉梅", "海燕", "军", "丽", "福海", "春花")
FULL_NAMES = ("阿依古丽·买买提", "马晓梅", "古丽娜尔", "艾尼瓦尔·吐尔逊")
"""A multi-ethnic district: some names do not split into surname and given name."""


CLAIM_TRIES = 120
"""Half-second tries of a demo claim while the unit's enrolment travels to tickets."""
GRIDS = 2024
"""Jinfeng's building-unit grids: about 30 per community."""


@dataclass(frozen=True)
class Community:
    street: str
    code: str
    grids: int = GRIDS // COMMUNITIES
    """Its grids are g01 … g<grids>."""


def communities() -> list[Community]:
    base, extra = divmod(GRIDS, COMMUNITIES)
    return [
        Community(f"s{(i % STREETS) + 1:02d}", f"c{i + 1:02d}", base + (1 if i < extra else 0))
        for i in range(COMMUNITIES)
    ]


SOUTH_WEST = (38.43, 106.17)
"""Where the demo district's map starts (latitude, longitude), near Yinchuan's Jinfeng."""
COMMUNITY_SIZE = (0.008, 0.010)
"""Each community's square on the map, in degrees (about 890 m by 870 m), nine to a row."""
GRIDS_PER_ROW = 6


def _box(south: float, west: float, size: tuple[float, float]) -> list[tuple[float, float]]:
    """A rectangle as a ring of (longitude, latitude) corners, as GeoJSON orders them."""
    north, east = south + size[0], west + size[1]
    return [(round(x, 6), round(y, 6)) for x, y in
            ((west, south), (east, south), (east, north), (west, north))]  # fmt: skip


def _grid(community: str, number: int, first: int, count: int) -> GridPlan:
    """Grid `number` (from 0) of a community: its square on the map, and its buildings in a
    row across the middle, numbered from `first` (addresses as 金凤区c01社区1号楼)."""
    i = int(community[1:]) - 1
    size = (COMMUNITY_SIZE[0] / GRIDS_PER_ROW, COMMUNITY_SIZE[1] / GRIDS_PER_ROW)
    south = SOUTH_WEST[0] + (i // 9) * COMMUNITY_SIZE[0] + (number // GRIDS_PER_ROW) * size[0]
    west = SOUTH_WEST[1] + (i % 9) * COMMUNITY_SIZE[1] + (number % GRIDS_PER_ROW) * size[1]
    buildings = [
        BuildingPlan(
            code=f"b{n:03d}", address=f"金凤区{community}社区{n}号楼",
            lat=round(south + size[0] / 2, 6),
            long=round(west + size[1] * (k + 1) / (count + 1), 6),
        )
        for k, n in enumerate(range(first, first + count))
    ]  # fmt: skip
    return GridPlan(
        code=f"g{number + 1:02d}", name=f"第{number + 1}网格", buildings=list(buildings),
        boundary=_box(south, west, size),
    )  # fmt: skip


def district_plan() -> DistrictPlan:
    """The demo district's territory: 8 streets, 68 communities, 2,024 grids and their
    buildings (3–6 a grid), with coordinates, outlines and addresses, the same on every run."""
    rng = random.Random("jinfeng-territory")
    streets: dict[str, list[CommunityPlan]] = {}
    for community in communities():
        grids, building = [], 0
        for g in range(community.grids):
            count = rng.randint(3, 6)
            grids.append(_grid(community.code, g, building + 1, count))
            building += count
        plan = CommunityPlan(code=community.code, name=f"{community.code}社区", grids=grids)
        streets.setdefault(community.street, []).append(plan)
    return DistrictPlan(
        code=DISTRICT,
        name="金凤区",
        streets=[
            StreetPlan(code=code, name=f"第{n + 1}街道", communities=members)
            for n, (code, members) in enumerate(sorted(streets.items()))
        ],
    )


def contact(community: Community, n: int, seed_value: int = 2026) -> dict[str, str]:
    """The n-th demo resident's contact details: made up, the same on every run."""
    rng = random.Random(f"{seed_value}:{community.code}:{n}")
    if rng.random() < 0.2:
        name = rng.choice(FULL_NAMES)
    else:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)
    building, stair, floor, door = (rng.randint(1, k) for k in (30, 6, 18, 4))
    address = f"金凤区{community.code}社区{building}号楼{stair}单元{floor}0{door}"
    return {"name": name, "phone": f"139{rng.randrange(10**8):08d}", "address": address}


class Issuer:
    """Signs the demo actors' tokens with the embedded default's key."""

    def __init__(self, signing_key_pem: bytes) -> None:
        self.pem = signing_key_pem

    def headers(self, community: Community, sub: str, role: Role, **extra: str) -> dict[str, str]:
        scope = Scope(district=DISTRICT, street=community.street, community=community.code)
        claims = Claims(sub=sub, role=role, scope=scope, **extra)
        return {"Authorization": f"Bearer {issue_token(self.pem, claims)}"}

    def scoped(self, street: str, community: str | None, role: Role, sub: str) -> dict[str, str]:
        scope = Scope(district=DISTRICT, street=street, community=community)
        token = issue_token(self.pem, Claims(sub=sub, role=role, scope=scope))
        return {"Authorization": f"Bearer {token}"}

    def resident(self, community: Community, person: str) -> dict[str, str]:
        return self.headers(community, person, Role.RESIDENT, person=person)

    def staff(self, community: Community) -> dict[str, str]:
        return self.headers(community, f"staff-{community.code}", Role.COMMUNITY_STAFF)

    def unit(self, community: Community, unit: str) -> dict[str, str]:
        return self.headers(community, f"{unit}-staff", Role.UNIT_STAFF, unit=unit)


async def _seed_wish(
    client: httpx.AsyncClient,
    issuer: Issuer,
    community: Community,
    n: int,
    rng: random.Random,
    seed_value: int,
) -> None:
    title, category = rng.choice(WISHES)
    joint = rng.random() < 0.2
    resident = f"resident-{community.code}-{n}"
    act = functools.partial(post, client, f"{community.code}-w{n}")
    posted = await act(
        "/wishes",
        issuer.resident(community, resident),
        {
            "district": DISTRICT, "street": community.street, "community": community.code,
            "grid": f"g{rng.randint(1, community.grids):02d}", "resident_id": resident,
            "title": title, "category": category, "claim_mode": "joint" if joint else "exclusive",
            "quota": 3 if joint else 1, "contact": contact(community, n, seed_value),
        },
    )  # fmt: skip
    wish = f"/wishes/{posted['wish']['id']}"
    progress = rng.randint(0, 5)
    if progress >= 1:
        await act(f"{wish}/verification", issuer.staff(community), None)
    unit = f"unit-{community.code}-{rng.randint(1, 6)}"
    if progress >= 2:
        await _claim_once_known(act, f"{wish}/claims", issuer.unit(community, unit), unit)
    if progress >= 3:
        await act(f"{wish}/fulfilment", issuer.unit(community, unit), {"unit_id": unit})
    if progress >= 4:
        await act(f"{wish}/fulfilment/verification", issuer.staff(community), None)
    if progress >= 5:
        resident_headers = issuer.resident(community, resident)
        await act(f"{wish}/acknowledgement", resident_headers, {"rating": 5})


async def _claim_once_known(
    act: Callable[..., Awaitable[Any]], path: str, headers: dict[str, str], unit: str
) -> None:
    """Claim as the unit once the tickets service has learned of it from the registry (its
    roster follows matching over the bus, a moment behind the demo's registration)."""
    for _ in range(CLAIM_TRIES - 1):
        try:
            await act(path, headers, {"unit_id": unit})
            return
        except httpx.HTTPStatusError as error:
            if error.response.status_code != 422:
                raise
            await asyncio.sleep(0.5)
    await act(path, headers, {"unit_id": unit})


async def seed(
    tickets_url: str, signing_key_pem: bytes, *, matching_url: str | None = None,
    wishes_per_community: int = 5, tickets_per_community: int = 4,
    disputes_per_community: int = 1, seed_value: int = 2026,
) -> int:  # fmt: skip
    """Seed the demo units and lists (when `matching_url` is given), then post and advance
    the demo wishes, tickets and disputes; return how many wishes."""
    rng = random.Random(seed_value)
    issuer = Issuer(signing_key_pem)
    if matching_url is not None:
        places = [(c.street, c.code) for c in communities()]
        await seed_units(matching_url, places, issuer.scoped, seed_value=seed_value)
    jobs = [(c, n) for c in communities() for n in range(wishes_per_community)]
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=tickets_url, timeout=30.0) as client:

        async def one(community: Community, n: int, wish_rng: random.Random) -> None:
            async with limit:
                await _seed_wish(client, issuer, community, n, wish_rng, seed_value)

        await asyncio.gather(*(one(c, n, random.Random(rng.random())) for c, n in jobs))

        async def cases(community: Community, case_rng: random.Random) -> None:
            def headers(role: Role, sub: str, **extra: str) -> dict[str, str]:
                return issuer.headers(community, f"{sub}-{community.code}", role, **extra)

            where = {"district": DISTRICT, "street": community.street, "community": community.code}
            async with limit:
                for n in range(tickets_per_community):
                    await seed_ticket(client, headers, where, n, case_rng)
                for n in range(disputes_per_community):
                    await seed_dispute(client, headers, where, n, case_rng)

        await asyncio.gather(*(cases(c, random.Random(rng.random())) for c in communities()))
    return len(jobs)
