from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from events import ALL_EVENTS, WISH_EVENTS, Actor, Role, Territory, subject_template
from events.wishes import ClaimMode, WishCategory, WishPosted
from services.runtime.asyncapi import asyncapi_router, bus_document
from tests.support.asyncapi_schema import asyncapi_3_0_0_schema

COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")
"""The specification requires every components key to match this; its JSON Schema does not."""


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return bus_document()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} is not a local reference"
    node: Any = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref} passes through a non-object"
        assert token in node, f"{ref} does not resolve: no {token!r}"
        node = node[token]
    return node


def test_the_bus_document_is_a_valid_asyncapi_3_document(document: dict[str, Any]) -> None:
    schema = asyncapi_3_0_0_schema()
    validator_class = validator_for(schema, default=None)  # type: ignore[arg-type]
    assert validator_class is not None, f"unknown meta-schema {schema.get('$schema')}"
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)

    errors = [f"{e.json_path}: {e.message[:300]}" for e in validator.iter_errors(document)]

    assert document["asyncapi"] == "3.0.0"
    assert errors == []


def test_every_wish_event_has_a_channel_with_district_and_community_parameters(
    document: dict[str, Any],
) -> None:
    for cls in WISH_EVENTS:
        channel = document["channels"][cls.__name__]
        assert channel["address"] == subject_template(cls)
        assert set(channel["parameters"]) == {"district", "community"}


def test_there_is_one_channel_and_one_send_operation_per_event(document: dict[str, Any]) -> None:
    assert sorted(document["channels"]) == sorted(cls.__name__ for cls in ALL_EVENTS)
    operations = document["operations"].values()
    assert sorted(op["channel"]["$ref"] for op in operations) == sorted(
        f"#/channels/{cls.__name__}" for cls in ALL_EVENTS
    )
    assert {op["action"] for op in operations} == {"send"}


def test_each_operation_names_the_service_that_publishes_it(document: dict[str, Any]) -> None:
    for cls in ALL_EVENTS:
        operation = document["operations"][f"send{cls.__name__}"]
        assert operation["tags"] == [{"name": cls.service}]


def test_a_message_is_named_after_its_class_and_summarised_by_its_docstring(
    document: dict[str, Any],
) -> None:
    message = document["components"]["messages"]["WishPosted"]
    fact = "A resident posted a micro-wish; it awaits the community's verification."
    assert (message["name"], message["title"], message["summary"]) == ("WishPosted", fact, fact)


def test_every_reference_in_the_document_resolves(document: dict[str, Any]) -> None:
    refs = set(_refs(document))
    assert refs
    for ref in refs:
        _resolve(document, ref)


def test_every_parameter_in_a_channel_address_is_declared_on_that_channel(
    document: dict[str, Any],
) -> None:
    for name, channel in document["channels"].items():
        in_address = set(re.findall(r"\{([^}]+)\}", channel["address"]))
        assert in_address == set(channel.get("parameters", {})), name


def test_component_names_use_only_the_characters_the_specification_allows(
    document: dict[str, Any],
) -> None:
    for kind, components in document["components"].items():
        bad = [key for key in components if not COMPONENT_KEY.fullmatch(key)]
        assert bad == [], kind
    for kind in ("channels", "operations"):
        assert all(COMPONENT_KEY.fullmatch(key) for key in document[kind]), kind


def test_a_published_event_matches_the_payload_schema_of_its_message(
    document: dict[str, Any],
) -> None:
    now = datetime.now(UTC)
    event = WishPosted(
        event_id=uuid4(),
        occurred_at=now,
        recorded_at=now,
        territory=Territory(district="tianshan", street="heping", community="yanerwo"),
        actor=Actor(id="r-1", role=Role.RESIDENT),
        source="tickets",
        position=1,
        wish_id=uuid4(),
        resident_id="r-1",
        title="吃一顿热腾腾的饺子",
        category=WishCategory.MEAL,
        claim_mode=ClaimMode.EXCLUSIVE,
        quota=1,
    )
    registry = Registry().with_resource(
        "urn:shiliu:bus", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    payload = document["components"]["messages"]["WishPosted"]["payload"]["$ref"]
    validator = Draft202012Validator({"$ref": f"urn:shiliu:bus{payload}"}, registry=registry)

    assert list(validator.iter_errors(event.model_dump(mode="json"))) == []
    assert not validator.is_valid({**event.model_dump(mode="json"), "quota": 0})


def test_the_document_is_served_over_http() -> None:
    app = FastAPI()
    app.include_router(asyncapi_router(version="1.2.3"))

    with TestClient(app) as client:
        response = client.get("/asyncapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == bus_document(version="1.2.3")
