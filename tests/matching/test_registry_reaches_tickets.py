"""The unit registry reaches the tickets service over a real nats-server, each service as its
own bus user with its own permissions: a unit claims a wish once its enrolment has arrived,
and is refused once its suspension has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.matching.main import create_app as create_matching
from services.runtime.settings import StoreSettings
from services.tickets.main import create_app as create_tickets
from tests.conftest import SecuredBus, eventually, tickets_settings
from tests.support.matching import STAFF as MATCHING_STAFF
from tests.support.matching import enrolled, matching_settings
from tests.support.tokens import bearer
from tests.tickets.helpers import RESIDENT, STAFF, posting, street_of, unit

pytestmark = pytest.mark.real_registry


def _open_wish(tickets: TestClient) -> str:
    wish_id: str = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
    tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()
    return wish_id


def _claim(tickets: TestClient, wish_id: str, unit_id: str) -> Any:
    return tickets.post(
        f"/wishes/{wish_id}/claims", json={"unit_id": unit_id}, headers=unit(unit_id)
    )


def test_a_unit_claims_once_its_enrolment_reached_tickets_and_is_refused_once_suspended(
    secured_bus: SecuredBus, tmp_path: Path
) -> None:
    matching_app = create_matching(matching_settings(
        secured_bus.as_user("matching"), StoreSettings(sqlite_path=tmp_path / "matching.sqlite")
    ))  # fmt: skip
    tickets_app = create_tickets(tickets_settings(
        secured_bus.as_user("tickets"), StoreSettings(sqlite_path=tmp_path / "tickets.sqlite")
    ))  # fmt: skip
    with (
        TestClient(matching_app, headers=MATCHING_STAFF) as matching,
        TestClient(tickets_app) as tickets,
    ):
        first = _open_wish(tickets)
        refused = _claim(tickets, first, "unit-e2e")
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, "unit.unknown")

        enrolled(matching, "unit-e2e")
        claimed = eventually(lambda: _claim(tickets, first, "unit-e2e").status_code == 201)
        assert claimed

        second = _open_wish(tickets)
        suspended = matching.post("/units/unit-e2e/suspension", json={"reason": "complaints"})
        assert suspended.status_code == 200

        def refused_as_suspended() -> bool:
            response = _claim(tickets, second, "unit-e2e")
            return bool(
                response.status_code == 422 and response.json()["error"]["code"] == "unit.suspended"
            )

        assert eventually(refused_as_suspended)


def test_a_unit_of_another_community_is_refused_as_not_in_that_communitys_alliance(
    secured_bus: SecuredBus, tmp_path: Path
) -> None:
    matching_app = create_matching(matching_settings(
        secured_bus.as_user("matching"), StoreSettings(sqlite_path=tmp_path / "matching.sqlite")
    ))  # fmt: skip
    tickets_app = create_tickets(tickets_settings(
        secured_bus.as_user("tickets"), StoreSettings(sqlite_path=tmp_path / "tickets.sqlite")
    ))  # fmt: skip
    c02 = {"district": "jinfeng", "street": street_of("c02"), "community": "c02"}
    secretary = bearer("secretary-2", "community_secretary", scope=c02)
    with (
        TestClient(matching_app, headers=secretary) as matching,
        TestClient(tickets_app) as tickets,
    ):
        body = {"unit_id": "unit-c02-x", "name": "c02 公司", "kind": "shop",
                "district": "jinfeng", "community": "c02"}  # fmt: skip
        assert matching.post("/units", json=body).status_code == 201
        assert matching.post("/units/unit-c02-x/alliance").status_code == 200
        wish = _open_wish(tickets)

        def refused_as_outsider() -> bool:
            response = _claim(tickets, wish, "unit-c02-x")
            return bool(response.json().get("error", {}).get("code") == "unit.not_in_alliance")

        assert eventually(refused_as_outsider)
