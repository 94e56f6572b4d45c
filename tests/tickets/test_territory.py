"""The territory tree, loaded from a file and re-drawn by events, routes new tickets."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.tokens import bearer
from tests.tickets.ticketing.ticket_helpers import GRID_WORKER, received, step

DISTRICT = bearer("official-1", "district_official", scope={"district": "jinfeng"})


def test_the_demo_district_has_68_communities_and_2024_grids(tickets: TestClient) -> None:
    territory = tickets.app.state.tickets.atlas.territory("jinfeng")  # type: ignore[attr-defined]
    assert len(territory.grids) == 68
    assert sum(len(grids) for grids in territory.grids.values()) == 2024
    shown = tickets.get("/territory/jinfeng/c01", headers=GRID_WORKER).json()
    assert shown["street"] == "s01"
    assert "b001" in shown["grids"]["g01"]


def test_a_building_moved_to_a_new_grid_routes_new_tickets_there(tickets: TestClient) -> None:
    drawn = tickets.post("/territory/jinfeng/c01/grids", json={"grid": "g99"}, headers=DISTRICT)
    assert drawn.status_code == 201, drawn.text
    assert "g99" in drawn.json()["grids"]
    moved = tickets.post(
        "/territory/jinfeng/c01/buildings/b001/move", json={"to_grid": "g99"}, headers=DISTRICT
    )
    assert moved.status_code == 200, moved.text
    ticket_id = received(tickets)
    worker = bearer(
        "gw-99",
        "grid_worker",
        scope={"district": "jinfeng", "street": "s01", "community": "c01", "grid": "g99"},
    )
    triaged = step(tickets, ticket_id, "triage", {"category": "noise"}, worker)
    assert triaged["grid"] == "g99"
    again = tickets.post("/territory/jinfeng/c01/grids", json={"grid": "g99"}, headers=DISTRICT)
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "territory.unknown_place"


def test_the_rules_in_effect_name_every_category_with_its_deadlines(tickets: TestClient) -> None:
    rules = tickets.get("/rules/jinfeng", headers=GRID_WORKER).json()
    codes = {c["code"] for c in rules["categories"]}
    assert {"parcel_lockers", "flying_wire_charging", "roof_leak", "elevator"} <= codes


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/rules/atlantis", "district"),
        ("/territory/atlantis/c01", "district"),
        ("/territory/jinfeng/c99", "community"),
    ],
)
def test_an_unknown_place_in_the_path_is_404_naming_the_path_parameter(
    tickets: TestClient, path: str, parameter: str
) -> None:
    response = tickets.get(path, headers=GRID_WORKER)

    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "territory.not_found"
    assert [f["field"] for f in error["fields"]] == [f"path.{parameter}"]


@pytest.mark.parametrize(
    ("path", "body", "parameter"),
    [
        ("/territory/jinfeng/c99/grids", {"grid": "g98"}, "community"),
        ("/territory/jinfeng/c01/buildings/b999/move", {"to_grid": "g02"}, "building"),
    ],
)
def test_redrawing_an_unknown_place_named_in_the_path_is_404(
    tickets: TestClient, path: str, body: dict[str, str], parameter: str
) -> None:
    response = tickets.post(path, json=body, headers=DISTRICT)

    assert response.status_code == 404, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [f"path.{parameter}"]
