"""The wish board page in a real browser: Debian's chromium against uvicorn, NATS and SQLite."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from services.runtime.settings import StoreSettings
from services.tickets.main import create_app
from tests.conftest import OFFLINE_BUS, eventually, tickets_settings
from tests.support.browser import chromium
from tests.support.servers import serving
from tests.support.tokens import bearer, token
from tests.tickets.helpers import posting

SCREENSHOT = Path("/tmp/board.png")  # looked at by hand: does the Chinese render?
C01 = {"district": "jinfeng", "street": "s01", "community": "c01"}
"""The demo accounts' community, as the sign-in page offers them."""
RESIDENT = bearer("resident-c01-0", "resident", scope=C01, person="resident-c01-0")
STAFF = bearer("staff-c01", "community_staff", scope=C01)


@pytest.fixture
def site(stores: dict[str, StoreSettings]) -> Iterator[str]:
    """The tickets app served by uvicorn on a free port, in a background thread (no bus)."""
    with serving(create_app(tickets_settings(OFFLINE_BUS, stores["tickets"],
                                             relay_enabled=False))) as url:  # fmt: skip
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def sign_in_as(page: Page, account: str) -> None:
    """On the sign-in page (where the board sent us), choose a demo account."""
    expect(page).to_have_url(re.compile(r"/signin(\?|$)"))
    page.locator(f"tr[data-account='{account}']").get_by_role("button").click()
    expect(page.locator(".signed-in")).to_contain_text(account)


def post_on_the_page(page: Page, title: str, **choices: str) -> None:
    form = page.locator("form.post")
    form.locator("input[name=title]").fill(title)
    form.locator("select[name=category]").select_option(choices.get("category", "meal"))
    form.locator("select[name=claim_mode]").select_option(choices.get("claim_mode", "exclusive"))
    form.locator("input[name=quota]").fill(choices.get("quota", "1"))
    form.locator("input[name=contact_name]").fill("王秀兰")
    form.locator("input[name=contact_phone]").fill("13812345678")
    form.locator("button[type=submit]").click()


def claim_on_the_page(page: Page, title: str) -> None:
    page.locator("tr", has_text=title).locator("form.claim button[type=submit]").click()


def reload_until(page: Page, row: Locator, text: str) -> None:
    """The JSON API answers before the board view catches up; the page's own forms wait."""

    def shown() -> bool:
        page.reload()
        return row.count() == 1 and text in row.inner_text()

    eventually(shown)


def open_wish(site: str, title: str) -> str:
    """A wish posted and verified through the JSON API, as community staff would."""
    body = posting(title=title, resident_id="resident-c01-0")
    posted = httpx.post(f"{site}/wishes", json=body, headers=RESIDENT)
    assert posted.status_code == 201, posted.text
    wish_id: str = posted.json()["wish"]["id"]
    verified = httpx.post(f"{site}/wishes/{wish_id}/verification", headers=STAFF)
    assert verified.status_code == 200, verified.text
    return wish_id


@pytest.mark.browser
def test_a_resident_posts_a_wish_and_a_unit_claims_it_on_the_board_in_chinese(
    site: str, page: Page
) -> None:
    page.goto(f"{site}/board/jinfeng/c01")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_contain_text("演示登录")
    sign_in_as(page, "resident-c01-0")
    expect(page).to_have_url(f"{site}/board/jinfeng/c01")
    expect(page.get_by_role("heading", level=1)).to_contain_text("微心愿墙")
    expect(page.locator(".signed-in")).to_have_text("已登录：resident-c01-0（居民）")
    expect(page.locator("form.post input[name=resident_id]")).to_have_count(0)
    expect(page.locator("form.post input[name=street]")).to_have_count(0)

    post_on_the_page(page, "吃一顿热腾腾的饺子")
    row = page.locator("tr", has_text="吃一顿热腾腾的饺子")
    expect(row).to_contain_text("待审核")
    expect(row).to_contain_text("餐食")
    expect(page.locator("form.claim")).to_have_count(0)

    wish_id = row.get_attribute("data-wish-id")
    verified = httpx.post(f"{site}/wishes/{wish_id}/verification", headers=STAFF)
    assert verified.status_code == 200, verified.text
    page.get_by_role("button", name="退出登录").click()
    sign_in_as(page, "unit-c01-1-staff")
    expect(page).to_have_url(f"{site}/board/jinfeng/c01")
    reload_until(page, row, "待认领")

    claim_on_the_page(page, "吃一顿热腾腾的饺子")
    expect(row).to_contain_text("已认领")
    expect(row.locator(".claimants")).to_have_text("unit-c01-1")
    expect(row.locator("form.claim")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


@pytest.mark.browser
def test_a_wish_posted_on_the_board_lands_in_the_street_the_territory_gives_its_community(
    site: str, page: Page
) -> None:
    page.goto(f"{site}/board/jinfeng/c01")
    sign_in_as(page, "resident-c01-0")
    post_on_the_page(page, "陪老人聊聊天", category="company")
    row = page.locator("tr", has_text="陪老人聊聊天")
    expect(row).to_have_count(1)

    wish = httpx.get(f"{site}/wishes/{row.get_attribute('data-wish-id')}", headers=STAFF)
    assert wish.status_code == 200, wish.text
    assert (wish.json()["street"], wish.json()["community"]) == ("s01", "c01")


@pytest.mark.browser
def test_the_board_switches_to_english(site: str, page: Page) -> None:
    page.goto(f"{site}/board/jinfeng/c01?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Demo sign-in")
    sign_in_as(page, "resident-c01-0")
    expect(page).to_have_url(f"{site}/board/jinfeng/c01?lang=en")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Wish board")
    expect(page.locator(".signed-in")).to_have_text("Signed in as resident-c01-0 (Resident)")

    post_on_the_page(page, "Light the path for late walkers", category="lighting")
    row = page.locator("tr", has_text="Light the path for late walkers")
    expect(row).to_contain_text("Awaiting review")
    expect(row).to_contain_text("Lighting")
    assert "lang=en" in page.url
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(row).to_contain_text("待审核")
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(f"{site}/board/jinfeng/c01?lang=en")


@pytest.mark.browser
def test_a_second_claim_shows_who_holds_the_wish(site: str, browser: Browser) -> None:
    open_wish(site, "帮忙收拾一下家里")
    first, second = browser.new_context(), browser.new_context()
    unit_a, unit_b = first.new_page(), second.new_page()
    for page, account in ((unit_a, "unit-c01-1-staff"), (unit_b, "unit-c01-2-staff")):
        page.goto(f"{site}/board/jinfeng/c01")
        sign_in_as(page, account)
        reload_until(page, page.locator("tr", has_text="帮忙收拾一下家里"), "待认领")

    claim_on_the_page(unit_a, "帮忙收拾一下家里")
    expect(unit_a.locator("tr", has_text="帮忙收拾一下家里")).to_contain_text("已认领")
    with unit_b.expect_response(lambda r: r.request.method == "POST") as answer:
        claim_on_the_page(unit_b, "帮忙收拾一下家里")

    assert answer.value.status == 409
    expect(unit_b.get_by_role("alert")).to_contain_text("unit-c01-1")
    expect(unit_b.get_by_role("alert")).to_contain_text("认领未成功")
    row = unit_b.locator("tr", has_text="帮忙收拾一下家里")
    expect(row.locator(".claimants")).to_have_text("unit-c01-1")
    first.close()
    second.close()


@pytest.mark.browser
def test_an_exclusive_wish_with_a_larger_quota_is_refused_naming_the_quota(
    site: str, page: Page
) -> None:
    page.goto(f"{site}/board/jinfeng/c01")
    sign_in_as(page, "resident-c01-0")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        post_on_the_page(page, "一台买菜用的公共三轮车", category="mobility", quota="3")

    assert answer.value.status == 422
    expect(page.get_by_role("alert")).to_contain_text("名额")
    expect(page.locator("form.post input[name=title]")).to_have_value("一台买菜用的公共三轮车")
    expect(page.locator("tr", has_text="一台买菜用的公共三轮车")).to_have_count(0)


def signed_in(sub: str, role: str, **extra: str) -> dict[str, str]:
    return {"shiliu_token": token(sub, role, scope=C01, **extra)}


def test_a_claim_on_an_unknown_wish_gets_the_not_found_page(site: str) -> None:
    answer = httpx.post(
        f"{site}/board/jinfeng/c01/wishes/{uuid4()}/claims?lang=en",
        cookies=signed_in("unit-c01-1-staff", "unit_staff", unit="unit-c01-1"),
    )
    assert answer.status_code == 404
    assert "No such wish" in answer.text
    assert 'href="/board/jinfeng/c01?lang=en"' in answer.text


def test_a_form_without_a_title_is_refused_naming_the_field(site: str) -> None:
    answer = httpx.post(
        f"{site}/board/jinfeng/c01/wishes",
        data={"category": "meal", "claim_mode": "exclusive", "quota": "1"},
        cookies=signed_in("resident-c01-0", "resident", person="resident-c01-0"),
    )
    assert answer.status_code == 422
    assert "请检查「心愿内容」的填写。" in answer.text
    assert '<html lang="zh-CN">' in answer.text
