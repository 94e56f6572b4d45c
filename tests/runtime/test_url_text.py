"""Text in a URL is held to the rule bodies follow: no control characters in. PostgreSQL text
cannot hold NUL at all, so a NUL that reached a query used to answer 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.tokens import bearer

OPERATOR = bearer("operator-1", "operator", scope={})
OFFICIAL = bearer("official-1", "district_official", scope={"district": "jinfeng"})
ON_POSTGRES = pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def refused(client: TestClient, url: str, headers: dict[str, str], field: str) -> None:
    answer = client.get(url, headers=headers)
    assert answer.status_code == 422, (url, answer.status_code, answer.text)
    error = answer.json()["error"]
    assert error["code"] == "request.invalid"
    assert [(f["field"], f["rule"]) for f in error["fields"]] == [(field, "control_character")]


@ON_POSTGRES
def test_a_nul_or_control_character_in_a_query_parameter_is_refused_with_422_not_500(
    tickets: TestClient, ledger: TestClient
) -> None:
    refused(ledger, "/ops/parked?consumer=%00", OPERATOR, "query.consumer")
    refused(ledger, "/ops/parked?consumer=ledger-wishes%01", OPERATOR, "query.consumer")
    refused(tickets, "/tickets?district=jinfeng&state=%00", OFFICIAL, "query.state")
    refused(tickets, "/tickets?district=jinfeng&state=open&state=a%00b", OFFICIAL, "query.state")
    refused(tickets, "/tickets?district=jinfeng&st%00ate=open", OFFICIAL, "query.st\x00ate")

    assert ledger.get("/ops/parked?consumer=ledger-wishes", headers=OPERATOR).status_code == 200
    plain = tickets.get("/tickets?district=jinfeng&state=open", headers=OFFICIAL)
    assert plain.status_code == 200, plain.text


@ON_POSTGRES
def test_a_nul_in_a_path_parameter_is_refused_with_422_not_500(
    tickets: TestClient, ledger: TestClient
) -> None:
    refused(tickets, "/wishes/a%00b/claims", OFFICIAL, "path")
    refused(ledger, "/ledger/jinfeng%00/wishes", OPERATOR, "path")


@ON_POSTGRES
def test_a_nul_in_an_open311_service_code_search_is_refused_in_its_own_error_format_not_500(
    tickets: TestClient,
) -> None:
    answer = tickets.get("/open311/v2/requests.json?service_code=a%00b")

    assert answer.status_code == 400, answer.text
    assert answer.json() == [
        {"code": 400, "description": "service_code: contains the control character U+0000"}
    ]
