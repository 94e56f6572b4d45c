"""Matching's pages in a real browser — the two-lists wall, a unit's page and the coordinator's
desk — clicked through in Debian's chromium at 1280 px and at 375 px wide, signed in on the
tickets service's sign-in page (both services served by uvicorn, as `shiliu up` serves them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from services.matching.main import create_app as create_matching
from services.runtime.nats_server import free_port
from services.runtime.settings import StoreSettings
from services.tickets.main import create_app as create_tickets
from tests.conftest import OFFLINE_BUS, eventually, memory_store, tickets_settings
from tests.support.browser import WIDTHS, chromium, sideways_overflow
from tests.support.matching import STAFF, Feeds, matching_settings, proposals_for
from tests.support.servers import serving

UNIT = "unit-c01-1"
"""The unit of the demo account unit-c01-1-staff."""
MEALS = {"category": "meals", "title": "爱心午餐", "capacity": 10,
         "availability": {"weekly": [{"weekday": d, "opens": "00:00", "closes": "23:59"}
                                     for d in range(1, 8)]}}  # fmt: skip
"""Open every day, all day: "available now" always finds it."""
LONG_AGO = {"dates": [{"starts_on": "2001-01-01", "ends_on": "2001-12-31"}]}
PARKING = {"category": "parking", "title": "错峰停车位", "capacity": 6, "capacity_unit": "places",
           "availability": LONG_AGO}  # fmt: skip
"""Long over: "available now" leaves it out."""


@dataclass(frozen=True)
class Sites:
    tickets: str
    matching: str
    app: FastAPI
    """The matching app, for feeding it wishes and tickets as its consumers would."""

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(method, f"{self.matching}{path}", headers=STAFF, **kwargs)
        assert response.is_success, response.text
        return response


@pytest.fixture
def sites(stores: dict[str, StoreSettings]) -> Iterator[Sites]:
    matching_port = free_port()
    matching_url = f"http://127.0.0.1:{matching_port}"
    tickets = create_tickets(tickets_settings(
        OFFLINE_BUS, stores["tickets"], relay_enabled=False, page_sites=[matching_url],
    ))  # fmt: skip
    with serving(tickets) as tickets_url:
        matching = create_matching(matching_settings(
            OFFLINE_BUS, memory_store(), relay_enabled=False, signin_url=f"{tickets_url}/signin",
            board_url=f"{tickets_url}/board",
        ))  # fmt: skip
        with serving(matching, matching_port):
            yield Sites(tickets_url, matching_url, matching)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    width: int = request.param
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    yield context.new_page()
    context.close()


def _enrolled(sites: Sites, unit_id: str, name: str) -> None:
    body = {"unit_id": unit_id, "name": name, "kind": "school", "district": "jinfeng",
            "community": "c01", "grid": "g01"}  # fmt: skip
    sites.api("POST", "/units", json=body)
    sites.api("POST", f"/units/{unit_id}/alliance")


def _offer(sites: Sites, unit_id: str | None, terms: dict[str, Any], side: str = "offer") -> str:
    body = {"side": side, "unit_id": unit_id, "district": "jinfeng", "community": "c01",
            "terms": terms}  # fmt: skip
    listing_id: str = sites.api("POST", "/listings", json=body).json()["listing"]["listing_id"]
    return listing_id


def _sign_in(page: Page, sites: Sites, account: str) -> None:
    """Sent to the tickets service's sign-in page, choose the demo account; come back."""
    expect(page).to_have_url(re.compile(rf"^{re.escape(sites.tickets)}/signin\?"))
    page.locator(f"tr[data-account='{account}']").get_by_role("button").click()
    expect(page.locator(".signed-in")).to_contain_text(account)
    assert page.url.startswith(sites.matching)


def _fits(page: Page) -> None:
    assert sideways_overflow(page) <= 0, f"{page.url} scrolls sideways at this width"


@pytest.mark.browser
def test_the_wall_shows_both_lists_and_filters_by_category_keywords_and_availability(
    sites: Sites, page: Page
) -> None:
    _enrolled(sites, "unit-school", "金凤第一小学")
    _offer(sites, "unit-school", MEALS)
    _offer(sites, "unit-school", PARKING)
    _offer(sites, "unit-school", {"category": "security", "title": "招聘保安两名"}, "demand")
    page.goto(f"{sites.matching}/wall/jinfeng/c01")
    _sign_in(page, sites, "resident-c01-0")
    expect(page.get_by_role("heading", level=1)).to_contain_text("资源清单与需求清单")
    offers = page.locator("section[aria-labelledby=offers] li.listing")
    demands = page.locator("section[aria-labelledby=demands] li.listing")
    expect(offers).to_have_count(2)
    expect(demands).to_have_count(1)
    expect(demands.first).to_contain_text("招聘保安两名")
    expect(offers.filter(has_text="爱心午餐")).to_contain_text("金凤第一小学")
    _fits(page)

    page.locator("select[name=category]").select_option("parking")
    page.get_by_role("button", name="筛选").click()
    expect(offers).to_have_count(1)
    expect(offers.first).to_contain_text("错峰停车位")
    expect(demands).to_have_count(0)

    page.locator("select[name=category]").select_option("")
    page.locator("input[name=now]").check()
    page.get_by_role("button", name="筛选").click()
    expect(offers).to_have_count(1)
    expect(offers.first).to_contain_text("爱心午餐")

    page.locator("input[name=now]").uncheck()
    page.locator("input[name=q]").fill("午餐")
    page.get_by_role("button", name="筛选").click()
    expect(offers).to_have_count(1)
    _fits(page)

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Resource list and demand list")
    meals = page.locator("section[aria-labelledby=offers] li.listing", has_text="爱心午餐")
    expect(meals).to_contain_text("Meals")
    _fits(page)


@pytest.mark.browser
def test_a_unit_adds_pauses_resumes_and_changes_its_listing_and_answers_a_proposal(
    sites: Sites, page: Page
) -> None:
    _enrolled(sites, UNIT, "金凤物业")
    page.goto(f"{sites.matching}/unit/{UNIT}")
    _sign_in(page, sites, f"{UNIT}-staff")
    expect(page.get_by_role("heading", level=1)).to_contain_text("金凤物业")
    expect(page.locator("dd.membership")).to_have_text("成员")

    form = page.locator("form.post").last
    form.locator("select[name=side]").select_option("offer")
    form.locator("select[name=category]").select_option("parking")
    form.locator("input[name=title]").fill("夜间错峰停车位")
    form.locator("input[name=capacity]").fill("6")
    form.locator("select[name=capacity_unit]").select_option("places")
    form.get_by_role("button", name="发布").click()
    listing = page.locator("li.listing", has_text="夜间错峰停车位")
    expect(listing).to_contain_text("6 个车位")
    _fits(page)

    listing.get_by_role("button", name="暂停").click()
    expect(listing).to_contain_text("已暂停")
    listing.get_by_role("button", name="恢复").click()
    expect(listing).not_to_contain_text("已暂停")
    listing.locator("summary").click()
    listing.locator("input[name=title]").fill("夜间错峰停车位（东门）")
    listing.get_by_role("button", name="保存修改").click()
    listing = page.locator("li.listing", has_text="夜间错峰停车位（东门）")
    expect(listing).to_have_count(1)

    ticket = Feeds(sites.app).triaged_ticket(category="parking")
    client = httpx.Client(base_url=sites.matching, headers=STAFF)
    eventually(lambda: proposals_for(client, ticket))
    page.reload()
    proposal = page.locator("li.match")
    expect(proposal).to_have_count(1)
    expect(proposal).to_contain_text("同一网格")  # a reason, in words
    proposal.get_by_role("button", name="接受").click()
    expect(proposal).to_contain_text("已接受：单位")
    _fits(page)


@pytest.mark.browser
def test_the_coordinator_finds_offers_with_reasons_and_matches_one_by_hand(
    sites: Sites, page: Page
) -> None:
    _enrolled(sites, "unit-near", "网格内商户")
    _enrolled(sites, "unit-care", "幸福养老服务站")
    for unit_id in ("unit-near", "unit-care"):
        _offer(sites, unit_id, MEALS)
    wish = Feeds(sites.app).open_wish(category="meal")
    client = httpx.Client(base_url=sites.matching, headers=STAFF)
    eventually(lambda: len(proposals_for(client, wish)) == 2)
    listing = proposals_for(client, wish)[0]["listing_id"]
    sites.api("POST", f"/matches/{proposals_for(client, wish)[0]['match_id']}/decline",
              json={"by": "community", "reason": "not_suitable"})  # fmt: skip
    another = _offer(sites, None, {**MEALS, "title": "社区食堂助餐"})
    assert another != listing

    page.goto(f"{sites.matching}/coordinate/jinfeng/c01")
    _sign_in(page, sites, "staff-c01")
    need = page.locator(f"li.need[data-need-id='{wish}']")
    expect(need).to_contain_text("热饺子")
    expect(need).to_contain_text("进行中的推荐 1 个")
    _fits(page)
    need.get_by_role("link", name="查找匹配").click()
    offers = page.locator("li.offer")
    expect(offers).to_have_count(3)
    chosen = page.locator(f"li.offer[data-listing-id='{another}']")
    expect(chosen).to_contain_text("社区食堂助餐")
    expect(chosen.locator("ul.reasons li")).not_to_have_count(0)
    _fits(page)
    chosen.get_by_role("button", name="人工匹配").click()
    made = page.locator("section[aria-labelledby=current] li.match", has_text="社区食堂助餐")
    expect(made).to_contain_text("待回应")
    by_hand = [p for p in proposals_for(client, wish) if p["listing_id"] == another]
    assert [p["accepted_by"] for p in by_hand] == [["community"]]

    declined = page.locator(f"li.offer[data-listing-id='{listing}']")
    expect(declined).to_contain_text("已婉拒")
    expect(declined.get_by_role("button")).to_have_count(0)  # a "no" is not asked again
    expect(chosen.get_by_role("button")).to_have_count(0)
    _fits(page)
