"""The bus's AsyncAPI 3.0.0 document, generated from the event contracts in `events/`.

Built directly rather than with FastStream's generator: FastStream 0.7.8 cannot declare channel
parameters (`{district}`, `{community}`) and names messages `Name:Message`, a key the
specification forbids.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema

from events import ALL_EVENTS
from events.envelope import CODE_PATTERN, IntegrationEvent
from events.subjects import subject_template

ASYNCAPI_VERSION = "3.0.0"
_SCHEMAS = "#/components/schemas/{model}"
_PARAMETERS: dict[str, dict[str, Any]] = {
    "district": {"description": f"The district's territory code, matching `{CODE_PATTERN}`."},
    "community": {"description": f"The community's territory code, matching `{CODE_PATTERN}`."},
}


def bus_document(*, version: str = "0.1.0") -> dict[str, Any]:
    """Every event as a channel its publishing service sends on; payloads are JSON schemas."""
    payloads, schemas = _payload_schemas(ALL_EVENTS)
    messages = {cls.__name__: _message(cls, payloads[cls]) for cls in ALL_EVENTS}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Shiliu bus",
            "version": version,
            "description": "Integration events the Shiliu services publish over NATS JetStream.",
        },
        "defaultContentType": "application/json",
        "channels": {cls.__name__: _channel(cls) for cls in ALL_EVENTS},
        "operations": {f"send{cls.__name__}": _operation(cls) for cls in ALL_EVENTS},
        "components": {"schemas": schemas, "messages": messages, "parameters": _PARAMETERS},
    }


def asyncapi_router(*, version: str = "0.1.0") -> APIRouter:
    """`GET /asyncapi.json`; the document is built once, when the router is."""
    document = bus_document(version=version)
    router = APIRouter()

    @router.get("/asyncapi.json", include_in_schema=False)
    def asyncapi_json() -> JSONResponse:
        return JSONResponse(document)

    return router


def _payload_schemas(
    events: tuple[type[IntegrationEvent], ...],
) -> tuple[dict[type[IntegrationEvent], dict[str, Any]], dict[str, Any]]:
    """One `$ref` per event, and every model they use under one set of unique names."""
    refs, top = models_json_schema([(cls, "validation") for cls in events], ref_template=_SCHEMAS)
    return {cls: refs[(cls, "validation")] for cls in events}, dict(top.get("$defs", {}))


def _channel(cls: type[IntegrationEvent]) -> dict[str, Any]:
    name = cls.__name__
    return {
        "address": subject_template(cls),
        "summary": _first_line(cls),
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        "parameters": {p: {"$ref": f"#/components/parameters/{p}"} for p in _PARAMETERS},
    }


def _operation(cls: type[IntegrationEvent]) -> dict[str, Any]:
    name = cls.__name__
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{name}"},
        "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        "summary": f"The {cls.service} service publishes {name}.",
        "tags": [{"name": cls.service}],
    }


def _message(cls: type[IntegrationEvent], payload: dict[str, Any]) -> dict[str, Any]:
    fact = _first_line(cls)
    return {
        "name": cls.__name__,
        "title": fact,
        "summary": fact,
        "contentType": "application/json",
        "payload": payload,
        "correlationId": {"location": "$message.payload#/correlation_id"},
    }


def _first_line(cls: type[IntegrationEvent]) -> str:
    doc = (cls.__doc__ or "").strip()
    if not doc:
        msg = f"{cls.__name__} needs a docstring stating the fact it records"
        raise ValueError(msg)
    return doc.splitlines()[0]
