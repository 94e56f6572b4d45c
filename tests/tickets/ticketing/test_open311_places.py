"""Open311 requests located as the specification allows: by `lat`/`long` or `address_string`
alone, placed by the territory's coordinates, outlines and addresses; and a real civic client
(the `georeport` package, and the specification's own form post) over real HTTP."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient
from georeport import GeoReport

from events.tickets import Channel
from services.runtime.commands import Caller
from services.runtime.place import Place
from services.runtime.settings import StoreSettings
from services.runtime.territory_plan import DistrictPlan
from services.tickets.main import create_app as create_tickets
from shiliu.demo import district_plan
from tests.conftest import eventually
from tests.support.servers import serving
from tests.tickets.ticketing import test_open311
from tests.tickets.ticketing.test_open311 import KEY, ROOT, errors_of, with_api_keys
from tests.tickets.ticketing.ticket_helpers import RESIDENT, request

B007 = {"lat": "38.430667", "long": "106.173571"}
"""Building b007 of c01 in the demo district, inside grid g03's outline."""
SPEC_EXAMPLE = (
    "api_key={key}&jurisdiction_id=jinfeng&service_code=roof_leak&lat=38.430667"
    "&long=106.173571&address_string=1234+5th+street&email=smit333%40sfgov.edu"
    "&device_id=tt222111&account_id=123456&first_name=john&last_name=smith&phone=111111111"
    "&description=A+large+sinkhole+is+destroying+the+street"
    "&media_url=http%3A%2F%2Fmyimages.com%2F1234.jpg&attribute%5BWHISPAWN%5D=123456"
    "&attribute%5BWHISDORN%5D=COISL001"
)
"""The specification's POST Service Request example, with this district's code and place."""
open311 = test_open311.open311


def _post(client: TestClient, **fields: str) -> httpx.Response:
    body = {"api_key": KEY, "service_code": "roof_leak", **fields}
    response: httpx.Response = client.post(f"{ROOT}/requests.json", data=body)
    return response


def _ticket(client: TestClient, response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    tickets = client.app.state.tickets  # type: ignore[attr-defined]
    return tickets.dispatcher.get_ticket(UUID(response.json()[0]["service_request_id"]))


def test_a_request_located_by_lat_and_long_only_lands_in_the_grid_whose_outline_holds_it(
    open311: TestClient,
) -> None:
    at_building = _ticket(open311, _post(open311, **B007))
    in_the_grid = _ticket(open311, _post(open311, lat="38.4312", long="106.1749"))

    assert (at_building.community, at_building.grid, at_building.building) == ("c01", "g03", "b007")
    assert (in_the_grid.street, in_the_grid.community, in_the_grid.grid) == ("s01", "c01", "g03")


def test_a_request_located_by_address_string_only_lands_at_the_building_it_names(
    open311: TestClient,
) -> None:
    ticket = _ticket(open311, _post(open311, address_string="金凤区 C01社区7号楼 2单元301"))

    assert (ticket.community, ticket.grid, ticket.building) == ("c01", "g03", "b007")


@pytest.mark.parametrize(
    ("fields", "starts"),
    [
        ({"lat": "30.2741", "long": "120.1551"}, "lat, long: 30.2741, 120.155 is in no grid"),
        ({"address_string": "1234 5th street"}, "address_string: '1234 5th street' is no"),
    ],
    ids=["coordinates elsewhere", "unknown address"],
)
def test_a_request_the_territory_cannot_place_is_refused_naming_the_fields_a_client_can_send(
    open311: TestClient, fields: dict[str, str], starts: str
) -> None:
    response = _post(open311, **fields)

    assert response.status_code == 400
    [(_, description)] = errors_of(response, "json")
    assert description.startswith(starts)
    assert description.endswith(
        "send lat and long inside the district, the address_string of a building, "
        "or address_id=<community>/<building>"
    )
    assert "attribute[community]" not in description


def _outside_the_outlines(folder: Path) -> Path:
    """The demo district with one more building of c01, east of every grid's outline."""
    plan = district_plan().model_dump(mode="json")
    grids = plan["streets"][0]["communities"][0]["grids"]
    grids[0]["buildings"].append({"code": "b900", "lat": 38.430667, "long": 106.1600})
    path = folder / "jinfeng.json"
    path.write_text(DistrictPlan.model_validate(plan).model_dump_json(), encoding="utf-8")
    return path


@pytest.mark.parametrize(("radius", "placed"), [(300.0, True), (50.0, False)])
def test_coordinates_outside_every_outline_go_to_the_nearest_building_within_the_radius(
    stores: dict[str, StoreSettings], tmp_path: Path, radius: float,
    placed: bool,
) -> None:  # fmt: skip
    settings = with_api_keys(stores["tickets"], tmp_path).model_copy(
        update={"territory_files": [_outside_the_outlines(tmp_path)],
                "open311_locate_radius_m": radius}
    )  # fmt: skip
    with TestClient(create_tickets(settings)) as client:
        response = _post(client, lat="38.4310", long="106.1620")  # about 175 m from b900

        if placed:
            ticket = _ticket(client, response)
            assert (ticket.community, ticket.grid, ticket.building) == ("c01", "g01", "b900")
        else:
            assert response.status_code == 400
            assert "and 50 m or more from its buildings" in response.json()[0]["description"]


def test_a_territory_without_coordinates_or_names_still_places_requests_by_address_id(
    stores: dict[str, StoreSettings], tmp_path: Path
) -> None:
    bare = {"code": "jinfeng", "streets": [{"code": "s01", "communities": [
        {"code": "c01", "grids": [{"code": "g01", "buildings": ["b001"]}]}]}]}  # fmt: skip
    (tmp_path / "bare.json").write_text(json.dumps(bare), encoding="utf-8")
    settings = with_api_keys(stores["tickets"], tmp_path).model_copy(
        update={"territory_files": [tmp_path / "bare.json"]}
    )
    with TestClient(create_tickets(settings)) as client:
        by_id = _ticket(client, _post(client, address_id="c01/b001"))
        by_coordinates = _post(client, **B007)

    assert (by_id.grid, by_id.building) == ("g01", "b001")
    assert by_coordinates.status_code == 400
    assert "is in no grid of jinfeng" in by_coordinates.json()[0]["description"]


def test_the_specifications_example_post_and_the_georeport_client_work_over_real_http(
    stores: dict[str, StoreSettings], tmp_path: Path
) -> None:
    app = create_tickets(with_api_keys(stores["tickets"], tmp_path))
    with serving(app) as url:
        untriaged = httpx.post(f"{url}/tickets", json=request(), headers=RESIDENT)
        assert untriaged.status_code == 201, untriaged.text
        posted = httpx.post(
            f"{url}{ROOT}/requests.xml", content=SPEC_EXAMPLE.format(key=KEY),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert posted.status_code == 200, posted.text
        created = ET.fromstring(posted.content).findtext("request/service_request_id")
        # stored as it could be before input was checked
        app.state.tickets.dispatcher.receive(
            Caller("gw-1", "grid_worker"),
            place=Place("jinfeng", "s01", "c01"),
            channel=Channel.GRID_PATROL,
            proactive=True,
            requester_id=None,
            title="漏\x0b水",
        )
        eventually(lambda: len(httpx.get(f"{url}{ROOT}/requests.json").json()) == 3)
        as_json = GeoReport(f"{url}{ROOT}", jurisdiction="jinfeng")
        as_xml = GeoReport(f"{url}{ROOT}", jurisdiction="jinfeng", output_format="xml")

        services = as_json.get_service_list()
        listed_json = as_json.get_service_requests(status="open")
        listed_xml = as_xml.get_service_requests(status="open")
        one = as_xml.get_service_request(str(created))
        definition = as_json.get_service_definition("roof_leak")

    assert {"roof_leak", "untriaged"} <= {s["service_code"] for s in services}
    assert {r["service_code"] for r in listed_json} == {"roof_leak", "untriaged"}
    assert {r["service_code"] for r in listed_xml} == {"roof_leak", "untriaged"}
    assert "漏\ufffd水" in {r["description"] for r in listed_xml}  # the XML stayed well-formed
    assert (one["service_request_id"], one["address_id"]) == (created, "c01/b007")
    assert definition == {"service_code": "roof_leak", "attributes": []}
