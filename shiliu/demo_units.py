"""The demo district's member units, seeded through the matching service's own HTTP API:
210 units in c01 (its alliance, 红石榴联盟), a dozen in every other community, each with a
made-up contact, most with a co-building agreement and an offer on the resource list, some
with a demand; the communities' own offers; and one closed evaluation period for c01.

Every command carries a fixed `Idempotency-Key` (see `demo_cases.post`), so seeding again
after a crash completes the same registry.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from events.envelope import Role
from events.evaluations import Indicator
from events.units import UnitKind
from shiliu.demo_cases import post

UNITS_IN_C01 = 210
UNITS_ELSEWHERE = 12
EVALUATED = "2026-Q3"
STAFF = 8
"""Staff members (and street officials) sharing the demo's commands: each is rate limited."""
KINDS = (
    (UnitKind.COMPANY, "科技有限公司", "volunteers"),
    (UnitKind.SCHOOL, "小学", "lecture"),
    (UnitKind.ELDERLY_CARE_STATION, "养老服务站", "elderly_care"),
    (UnitKind.PROPERTY_COMPANY, "物业服务有限公司", "repair"),
    (UnitKind.SHOP, "便民超市", "goods"),
    (UnitKind.SOCIAL_ORGANISATION, "志愿者协会", "volunteers"),
    (UnitKind.PUBLIC_INSTITUTION, "社区卫生服务中心", "health"),
    (UnitKind.COMPANY, "餐饮管理有限公司", "meals"),
    (UnitKind.COMPANY, "家政服务有限公司", "cleaning"),
    (UnitKind.COMPANY, "停车管理有限公司", "parking"),
)
"""A unit's kind, its name's ending, and what it offers."""
OFFERS = {
    "volunteers": ("农闲季节志愿者服务队", "people", 20),
    "lecture": ("家庭教育讲座", "sessions", 4),
    "elderly_care": ("独居老人上门关爱", "people", 10),
    "repair": ("水电小修小补", "sessions", 12),
    "goods": ("爱心物资捐赠", "items", 50),
    "health": ("义诊和血压测量", "sessions", 6),
    "meals": ("爱心午餐", "people", 30),
    "cleaning": ("家庭保洁", "sessions", 8),
    "parking": ("错峰共享停车位", "places", 40),
    "venue": ("100座会议室和投影", "seats", 100),
}
DEMANDS = (("counselling", "员工心理咨询"), ("training", "党员学习培训"),
           ("security", "夜间安保人员"), ("cleaning", "楼道保洁人员"))  # fmt: skip
COMMUNITY_OFFERS = (("training", "专家技能培训"), ("policy_briefing", "惠企政策宣讲"),
                    ("subsidy", "产业扶持申报辅导"))  # fmt: skip
NAMES = "王李张刘陈杨马赵黄周吴丁"
Headers = Callable[[str, Role], dict[str, str]]


def unit_ids(community: str) -> list[str]:
    """The demo units of a community: `unit-<community>-1` … (the demo wishes' claimants)."""
    count = UNITS_IN_C01 if community == "c01" else UNITS_ELSEWHERE
    return [f"unit-{community}-{n}" for n in range(1, count + 1)]


def unit_contact(rng: random.Random) -> dict[str, str]:
    """A demo unit's contact person, the first draws of its own random numbers: made up."""
    return {"name": rng.choice(NAMES) + rng.choice("明华军英梅强"), "role": "联络员",
            "phone": f"138{rng.randrange(10**8):08d}"}  # fmt: skip


def unit_phone(unit_id: str, seed_value: int = 2026) -> str:
    """The phone of a demo unit's contact, as seeding makes it (the plaintext scans' needle)."""
    return unit_contact(random.Random(f"{seed_value}:{unit_id}"))["phone"]


def _offer(category: str, unit: str | None, rng: random.Random) -> dict[str, Any]:
    title, capacity_unit, capacity = OFFERS.get(category, (category, "sessions", 5))
    weekday = rng.randint(1, 7)
    return {"category": category, "title": title, "capacity": capacity,
            "capacity_unit": capacity_unit, "reach": "community" if unit else "district",
            "availability": {"weekly": [{"weekday": d, "opens": "08:30", "closes": "18:00"}
                                        for d in sorted({weekday, (weekday % 7) + 1, 6, 7})]},
            "description": "提前两天预约，联系人见单位页面"}  # fmt: skip


async def _seed_unit(
    act: Callable[..., Awaitable[Any]], where: dict[str, str], unit_id: str, n: int,
    rng: random.Random,
) -> None:  # fmt: skip
    kind, ending, category = KINDS[n % len(KINDS)]
    contact = unit_contact(rng)
    body = {"unit_id": unit_id, "name": f"金凤{where['community']}{n}号{ending}",
            "kind": kind.value, "district": where["district"], "community": where["community"],
            "grid": f"g{rng.randint(1, 3):02d}", "contact": contact}  # fmt: skip
    await act(unit_id, "/units", body)
    await act(unit_id, f"/units/{unit_id}/alliance", None)
    if n % 3:
        await act(unit_id, f"/units/{unit_id}/agreement",
                  {"starts_on": "2026-01-01", "ends_on": "2026-12-31"})  # fmt: skip
    terms = _offer(category, unit_id, rng)
    await act(f"{unit_id}-offer", "/listings",
              {"side": "offer", "unit_id": unit_id, **where, "terms": terms})  # fmt: skip
    if n % 5 == 0:
        demand_category, title = DEMANDS[n // 5 % len(DEMANDS)]
        demand = {"side": "demand", "unit_id": unit_id, **where,
                  "terms": {"category": demand_category, "title": title}}  # fmt: skip
        await act(f"{unit_id}-demand", "/listings", demand)


async def _evaluate(act: Callable[..., Awaitable[Any]], unit_id: str, rng: random.Random) -> None:
    period = f"/units/{unit_id}/evaluations/{EVALUATED}"
    await act(unit_id, f"/units/{unit_id}/evaluations", {"period": EVALUATED})
    for indicator in Indicator:
        evidence = [{"kind": "entry", "reference": f"台账-{unit_id}-{indicator.value}.pdf"}]
        score = {"indicator": indicator.value, "points": rng.randint(12, 20),
                 "evidence": evidence}  # fmt: skip
        await act(unit_id, f"{period}/scores/{indicator.value}", score, path=f"{period}/scores")
    await act(unit_id, f"{period}/closure", None)


async def seed_units(
    matching_url: str, communities: list[tuple[str, str]], headers: Callable[..., dict[str, str]],
    *, seed_value: int = 2026,
) -> int:  # fmt: skip
    """Register, enrol and list the demo units of every (street, community), the communities'
    own offers, and c01's closed evaluation; return how many units. Units are seeded side by
    side (eight commands in flight), each from its own seeded random numbers, so the district
    is the same however the seeding interleaves. `headers(street, community, role, sub)` signs
    a demo actor's token."""
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=matching_url, timeout=30.0) as client:

        def desk(street: str, code: str, n: int) -> Callable[..., Awaitable[Any]]:
            staff = headers(street, code, Role.COMMUNITY_STAFF, f"staff-{code}-{n % STAFF}")
            return functools.partial(_post, client, staff)

        async def unit(street: str, code: str, n: int, unit_id: str) -> None:
            async with limit:
                where = {"district": "jinfeng", "community": code}
                local = random.Random(f"{seed_value}:{unit_id}")
                await _seed_unit(desk(street, code, n), where, unit_id, n, local)

        async def own_offers(street: str, code: str) -> None:
            async with limit:
                where = {"district": "jinfeng", "community": code}
                local = random.Random(f"{seed_value}:{code}")
                for category, title in COMMUNITY_OFFERS:
                    terms = {**_offer(category, None, local), "title": title}
                    listing = {"side": "offer", **where, "terms": terms}
                    await desk(street, code, 0)(f"{code}-{category}", "/listings", listing)

        async def evaluation(street: str, n: int, unit_id: str) -> None:
            async with limit:
                official = headers(
                    street, None, Role.STREET_OFFICIAL, f"street-{street}-{n % STAFF}"
                )
                local = random.Random(f"{seed_value}:{unit_id}:{EVALUATED}")
                await _evaluate(functools.partial(_post, client, official), unit_id, local)

        units = [(street, code, n, unit_id) for street, code in communities
                 for n, unit_id in enumerate(unit_ids(code), start=1)]  # fmt: skip
        await asyncio.gather(*(unit(*job) for job in units))
        await asyncio.gather(*(own_offers(street, code) for street, code in communities))
        await asyncio.gather(*(evaluation(street, n, unit_id)
                               for street, code, n, unit_id in units if code == "c01"))  # fmt: skip
    return len(units)


async def _post(
    client: httpx.AsyncClient, headers: dict[str, str], record: str, key: str, body: Any,
    *, path: str | None = None,
) -> Any:  # fmt: skip
    """POST to `path` (`key` when not given), keyed by the demo record and `key`."""
    return await post(client, f"units-{record}", path or key, headers, body, key=key)
