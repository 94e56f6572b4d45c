"""Demo sign-in and the board page's policy: cookies, redirects, refusals by role and territory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from events.envelope import Role
from services.runtime.identity import COOKIE, Authenticator, AuthSettings
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import TicketsSettings, create_app
from services.tickets.signin import ACCOUNTS, local_path
from shiliu.demo import DISTRICT, communities, district_plan
from tests.conftest import demo_territory, master_key
from tests.support.tokens import auth_settings, bearer
from tests.support.units import TEST_UNITS, enrol
from tests.tickets.helpers import posting

C01 = {"district": "jinfeng", "street": "s01", "community": "c01"}
C02 = {"district": "jinfeng", "street": "s02", "community": "c02"}


def _client(tmp_path: Path, auth: AuthSettings) -> TestClient:
    settings = TicketsSettings(
        store=StoreSettings(sqlite_path=tmp_path / "tickets.sqlite"), bus=BusSettings(),
        master_key=master_key(), relay_enabled=False, auth=auth,
        territory_files=[demo_territory()],
    )  # fmt: skip
    return TestClient(create_app(settings), follow_redirects=False)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module: a shutdown can race the board view's reads (see the report)."""
    with _client(tmp_path_factory.mktemp("signin"), auth_settings()) as client:
        enrol(client.app.state.tickets.units, TEST_UNITS)  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def client(running: TestClient) -> TestClient:
    """The tickets app without a bus and with no default credentials: the cookie decides."""
    running.cookies.clear()
    return running


def sign_in(client: TestClient, account: str, **form: str) -> Any:
    return client.post("/signin", data={"account": account, **form})


def open_wish(client: TestClient, scope: dict[str, str]) -> str:
    """A wish posted by a resident and verified by staff, through the JSON API."""
    resident = bearer("resident-x", "resident", scope=scope, person="resident-x")
    body = posting(community=scope["community"], resident_id="resident-x")
    posted = client.post("/wishes", json=body, headers=resident)
    assert posted.status_code == 201, posted.text
    wish_id: str = posted.json()["wish"]["id"]
    staff = bearer(f"staff-{scope['community']}", "community_staff", scope=scope)
    assert client.post(f"/wishes/{wish_id}/verification", headers=staff).status_code == 200
    return wish_id


def first_event(client: TestClient, wish_id: str) -> Any:
    board = client.app.state.tickets.store  # type: ignore[attr-defined]
    return next(iter(board.repository.event_store.get(UUID(wish_id))))


def test_the_board_sends_whoever_is_not_signed_in_to_sign_in_and_back(
    client: TestClient,
) -> None:
    shown = client.get("/board/jinfeng/c01?lang=en")
    assert shown.status_code == 303
    assert shown.headers["location"] == "/signin?lang=en&next=%2Fboard%2Fjinfeng%2Fc01%3Flang%3Den"
    page = client.get(shown.headers["location"])
    assert page.status_code == 200
    assert 'name="next" value="/board/jinfeng/c01?lang=en"' in page.text
    claimed = client.post(f"/board/jinfeng/c01/wishes/{open_wish(client, C01)}/claims")
    assert claimed.status_code == 303
    assert claimed.headers["location"] == "/signin?next=%2Fboard%2Fjinfeng%2Fc01"


def test_signing_in_sets_an_http_only_cookie_whose_token_carries_the_chosen_role(
    client: TestClient,
) -> None:
    answer = sign_in(client, "unit-c01-1-staff", next="/board/jinfeng/c01?lang=en")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/board/jinfeng/c01?lang=en"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    principal = Authenticator(auth_settings()).verify_token(client.cookies[COOKIE])
    assert (principal.id, principal.role, principal.unit) == (
        "unit-c01-1-staff", Role.UNIT_STAFF, "unit-c01-1",
    )  # fmt: skip
    assert principal.scope.community == "c01"
    board = client.get("/board/jinfeng/c01")
    assert board.status_code == 200
    assert "已登录：unit-c01-1-staff（驻区单位）" in board.text


def test_without_a_next_page_an_account_lands_on_its_own_board(client: TestClient) -> None:
    assert sign_in(client, "resident-c01-0").headers["location"] == "/board/jinfeng/c01"
    assert sign_in(client, "official-s01").headers["location"] == "/board/jinfeng/c01"


def test_the_sign_in_page_offers_a_demo_account_for_every_role_a_person_has(
    client: TestClient,
) -> None:
    page = client.get("/signin")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert '<meta charset="utf-8">' in page.text
    assert "演示登录" in page.text
    assert {account.role for account in ACCOUNTS.values()} == set(Role) - {Role.SYSTEM}
    for sub in ACCOUNTS:
        assert f'data-account="{sub}"' in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    english = client.get("/signin?lang=en")
    assert '<html lang="en">' in english.text
    assert "Demo sign-in" in english.text
    assert 'action="/signin?lang=en"' in english.text


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/board", "/\\evil.example", "http:/evil.example",
     "javascript:alert(1)", "/board\n//evil.example", "board/jinfeng/c01"],
)  # fmt: skip
def test_a_next_page_off_this_site_is_refused(client: TestClient, target: str) -> None:
    answer = sign_in(client, "resident-c01-0", next=target)
    assert answer.status_code == 400
    assert "set-cookie" not in answer.headers
    assert "登录后的返回地址必须是本站页面。" in answer.text
    offered = client.get("/signin", params={"next": target})
    assert "evil" not in offered.text
    assert 'name="next"' not in offered.text


def test_an_unknown_account_is_refused(client: TestClient) -> None:
    answer = sign_in(client, "root")
    assert answer.status_code == 400
    assert "set-cookie" not in answer.headers


def test_a_resident_signed_in_cannot_claim_and_the_page_says_why(client: TestClient) -> None:
    wish_id = open_wish(client, C01)
    sign_in(client, "resident-c01-0")
    board = client.get("/board/jinfeng/c01")
    assert 'class="claim"' not in board.text
    refused = client.post(f"/board/jinfeng/c01/wishes/{wish_id}/claims")
    assert refused.status_code == 403
    assert "未获授权：居民不能认领微心愿。" in refused.text
    english = client.post(f"/board/jinfeng/c01/wishes/{wish_id}/claims?lang=en")
    assert english.status_code == 403
    assert "Not allowed: as Resident you may not claim a wish." in english.text


def test_unit_staff_of_c01_cannot_claim_on_the_c02_board(client: TestClient) -> None:
    wish_id = open_wish(client, C02)
    sign_in(client, "unit-c01-1-staff")
    refused = client.post(f"/board/jinfeng/c02/wishes/{wish_id}/claims")
    assert refused.status_code == 403
    assert "未获授权：这里不在您的管辖范围内，不能认领微心愿。" in refused.text
    wish = client.get(f"/wishes/{wish_id}", headers=bearer("auditor", "auditor", scope={}))
    assert wish.json()["claimants"] == []


def test_a_unit_claims_for_the_unit_its_token_names_whatever_the_form_says(
    client: TestClient,
) -> None:
    wish_id = open_wish(client, C01)
    sign_in(client, "unit-c01-2-staff")
    claimed = client.post(
        f"/board/jinfeng/c01/wishes/{wish_id}/claims", data={"unit_id": "unit-c01-1"}
    )
    assert claimed.status_code == 303
    wish = client.get(f"/wishes/{wish_id}", headers=bearer("auditor", "auditor", scope={}))
    assert wish.json()["claimants"] == ["unit-c01-2"]


def _post_on_the_page(client: TestClient, **fields: str) -> str:
    form = {"title": "陪老人聊聊天", "category": "company", "claim_mode": "exclusive",
            "quota": "1", **fields}  # fmt: skip
    posted = client.post("/board/jinfeng/c01/wishes", data=form)
    assert posted.status_code == 303, posted.text
    return str(posted.headers["location"]).rsplit("#wish-", 1)[1]


def test_staff_post_for_a_resident_and_are_recorded_as_acting_on_their_behalf(
    client: TestClient,
) -> None:
    sign_in(client, "staff-c01")
    event = first_event(client, _post_on_the_page(client, resident_id="resident-c01-3"))
    assert event.resident_id == "resident-c01-3"
    assert (event.stamp.actor_id, event.stamp.on_behalf_of) == ("staff-c01", "resident-c01-3")


def test_a_resident_posts_for_themselves_whatever_resident_id_the_form_says(
    client: TestClient,
) -> None:
    sign_in(client, "resident-c01-0")
    event = first_event(client, _post_on_the_page(client, resident_id="resident-c01-4"))
    assert event.resident_id == "resident-c01-0"
    assert (event.stamp.actor_id, event.stamp.on_behalf_of) == ("resident-c01-0", None)


def test_signing_out_clears_the_cookie(client: TestClient) -> None:
    sign_in(client, "staff-c01")
    out = client.post("/signout?lang=en")
    assert out.status_code == 303
    assert out.headers["location"] == "/signin?lang=en"
    assert out.headers["set-cookie"].startswith(f'{COOKIE}=""')
    assert COOKIE not in client.cookies
    assert client.get("/board/jinfeng/c01").status_code == 303


def test_sign_in_is_not_offered_without_a_signing_key(tmp_path: Path) -> None:
    public_only = AuthSettings(public_key_file=auth_settings().public_key_file)
    client = _client(tmp_path, public_only)  # no lifespan needed: sign-in uses no store
    page = client.get("/signin")
    assert page.status_code == 404
    assert "本服务未开启演示登录：请通过统一身份认证登录。" in page.text
    assert "data-account" not in page.text
    assert sign_in(client, "operator-1").status_code == 404


def test_every_demo_account_acts_in_a_place_of_the_demo_territory() -> None:
    plan = district_plan()
    grids = {
        (street.code, community.code, grid.code)
        for street in plan.streets
        for community in street.communities
        for grid in community.grids
    }
    for account in ACCOUNTS.values():
        scope = account.scope
        assert scope.district in (None, plan.code), account.sub
        assert any(
            scope.contains(district=plan.code, street=s, community=c, grid=g) for s, c, g in grids
        ), f"{account.sub}'s scope {scope} is not in the demo territory"


def test_the_demo_street_officials_scope_covers_the_communities_seeded_in_its_street() -> None:
    official = ACCOUNTS["official-s01"]
    assert official.role is Role.STREET_OFFICIAL
    seeded = [c for c in communities() if c.street == official.scope.street]
    assert {"c01", "c09"} <= {c.code for c in seeded}
    for community in seeded:
        assert official.scope.contains(
            district=DISTRICT, street=community.street, community=community.code, grid=None
        ), community


SIBLING = "http://127.0.0.1:8703"


@pytest.mark.parametrize(
    ("target", "kept"),
    [(f"{SIBLING}/unit/unit-c01-1?lang=en", True), ("/board/jinfeng/c01", True),
     (f"{SIBLING}@evil.example/unit", False), ("http://127.0.0.1:87031/unit", False),
     ("https://127.0.0.1:8703/unit", False), ("http://127.0.0.1:8704/unit", False),
     (f"{SIBLING}", False), (f"http://user@{SIBLING[7:]}/unit", False),
     (f"{SIBLING}/unit\n", False)],
)  # fmt: skip
def test_a_next_page_may_be_a_sibling_services_page_and_nothing_else_off_this_site(
    target: str, kept: bool
) -> None:
    assert (local_path(target, [SIBLING]) == target) is kept
