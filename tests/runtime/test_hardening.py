"""Input hardening: body size, strict content types and rate limits per actor, on every tickets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends
from fastapi.testclient import TestClient

from services.runtime.http import service_app
from services.runtime.identity import Claims, Principal, issue_token, principal_of
from services.runtime.limits import LimitSettings
from tests.support.tokens import auth_settings, bearer
from tests.tickets.helpers import RESIDENT, STAFF, posting

ALICE = bearer("alice", "community_staff")
BOB = bearer("bob", "community_staff")


SETUP = ("services.tickets.territory:", "services.tickets.routing:")
"""The territory and rules loaded from files at start-up, before any request."""


def stored_events(tickets: TestClient) -> int:
    recorder = tickets.app.state.tickets.store.recorder  # type: ignore[attr-defined]
    notifications = recorder.select_notifications(1, 1_000_000)
    return sum(not n.topic.startswith(SETUP) for n in notifications)


def probe(**limits: Any) -> TestClient:
    """A bare service built by the shared factory, with one command and one query."""
    app = service_app("probe", auth=auth_settings(), limits=LimitSettings(**limits))

    @app.post("/things", status_code=201)
    async def make_thing(principal: Annotated[Principal, Depends(principal_of)]) -> dict[str, str]:
        return {"by": principal.id}

    @app.get("/things")
    async def list_things() -> list[str]:
        return []

    return TestClient(app)


def forged(sub: str) -> dict[str, str]:
    """A well-formed token signed by a key the service does not know."""
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {"Authorization": f"Bearer {issue_token(key, Claims(sub=sub, role='operator'))}"}


def padded(body: dict[str, Any], size: int) -> bytes:
    """Valid JSON of at least `size` bytes: the body, then blanks."""
    text = json.dumps(body).encode()
    return text + b" " * max(0, size - len(text))


JSON = {"Content-Type": "application/json"}


def test_an_oversized_body_is_refused_with_413_and_nothing_is_stored(tickets: TestClient) -> None:
    answer = tickets.post("/wishes", content=padded(posting(), 65 * 1024), headers=STAFF | JSON)

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "request.too_large"
    assert stored_events(tickets) == 0


def test_a_body_within_the_limit_is_accepted(tickets: TestClient) -> None:
    answer = tickets.post("/wishes", content=padded(posting(), 60 * 1024), headers=STAFF | JSON)

    assert answer.status_code == 201, answer.text


def test_an_oversized_body_without_content_length_is_counted_and_refused(
    tickets: TestClient,
) -> None:
    def chunks() -> Iterator[bytes]:
        yield from [padded(posting(), 40 * 1024), b" " * 40 * 1024]

    answer = tickets.post("/wishes", content=chunks(), headers=STAFF | JSON)

    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413
    assert stored_events(tickets) == 0


def test_a_command_without_a_body_is_refused_when_a_large_one_is_declared(
    tickets: TestClient,
) -> None:
    """The route ignores its body, yet never runs: the declared length is checked first."""
    wish = tickets.post("/wishes", json=posting(), headers=STAFF).json()["wish"]["id"]
    before = stored_events(tickets)

    answer = tickets.post(f"/wishes/{wish}/verification", content=b"{}" + b" " * 70_000,
                          headers=STAFF | JSON)  # fmt: skip

    assert answer.status_code == 413
    assert stored_events(tickets) == before


def test_a_json_command_sent_as_text_plain_is_refused_with_415(tickets: TestClient) -> None:
    answer = tickets.post(
        "/wishes", content=json.dumps(posting()), headers=STAFF | {"Content-Type": "text/plain"}
    )

    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "request.unsupported_media_type"
    assert stored_events(tickets) == 0


def test_a_json_command_without_a_content_type_is_refused_with_415(tickets: TestClient) -> None:
    answer = tickets.post("/wishes", content=json.dumps(posting()), headers=STAFF)

    assert "content-type" not in answer.request.headers
    assert answer.status_code == 415


def test_json_with_a_charset_is_accepted(tickets: TestClient) -> None:
    charset = {"Content-Type": "application/json; charset=utf-8"}
    answer = tickets.post("/wishes", content=json.dumps(posting()), headers=STAFF | charset)

    assert answer.status_code == 201, answer.text


def test_the_board_form_still_accepts_form_encoded_posts(tickets: TestClient) -> None:
    form = {
        "resident_id": "person-1", "street": "s01", "title": "修一修楼道灯", "category": "repair",
        "claim_mode": "exclusive", "quota": "1",
    }  # fmt: skip

    answer = tickets.post(
        "/board/jinfeng/c01/wishes", data=form, headers=RESIDENT, follow_redirects=False
    )

    assert answer.status_code not in (413, 415)
    assert answer.status_code == 303, answer.text
    assert stored_events(tickets) > 0


def test_a_burst_past_the_limit_gets_429_with_retry_after_while_another_actor_is_unaffected() -> (
    None
):
    with probe(command_rate=0.01, command_burst=3) as client:
        granted = [client.post("/things", headers=ALICE).status_code for _ in range(3)]
        refused = client.post("/things", headers=ALICE)
        other = client.post("/things", headers=BOB)

    assert granted == [201, 201, 201]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "request.rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert other.status_code == 201


def test_gets_are_limited_separately_from_commands() -> None:
    with probe(command_rate=0.01, command_burst=1, read_rate=0.01, read_burst=2) as client:
        assert client.post("/things", headers=ALICE).status_code == 201
        assert client.post("/things", headers=ALICE).status_code == 429
        reads = [client.get("/things", headers=ALICE).status_code for _ in range(3)]

    assert reads == [200, 200, 429]


def test_tokens_that_fail_verification_count_against_the_client_address() -> None:
    """A forged `sub` would otherwise buy a fresh bucket per request."""
    with probe(command_rate=0.01, command_burst=2) as client:
        answers = [client.post("/things", headers=forged(f"x{n}")).status_code for n in range(3)]
        signed = client.post("/things", headers=ALICE)

    assert answers == [401, 401, 429]
    assert signed.status_code == 201


def test_health_is_never_rate_limited() -> None:
    with probe(read_rate=0.01, read_burst=1) as client:
        answers = {client.get("/health").status_code for _ in range(5)}

    assert answers == {200}
