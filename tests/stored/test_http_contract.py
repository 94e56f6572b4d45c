"""The tickets service's HTTP contract stays as it was: every operation's path, method, id,
parameters, body and answers equal a snapshot taken before its routes were rewritten
(`tickets_openapi.json`); a change to the contract changes the snapshot on purpose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.runtime.settings import StoreSettings
from services.tickets.main import create_app
from tests.conftest import OFFLINE_BUS, tickets_settings

SNAPSHOT = Path(__file__).parent / "tickets_openapi.json"


def operations(document: dict[str, Any]) -> dict[str, Any]:
    """Each operation as the contract sees it (what a client sends and gets back)."""
    found = {}
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            params = sorted(
                (p["name"], p["in"], p.get("required", False),
                 json.dumps(p.get("schema"), sort_keys=True))
                for p in op.get("parameters", [])
            )  # fmt: skip
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            answers = {
                status: answer.get("content", {}).get("application/json", {}).get("schema")
                for status, answer in op.get("responses", {}).items()
            }
            found[f"{method.upper()} {path}"] = {
                "id": op.get("operationId"), "params": [list(p) for p in params],
                "body": body.get("schema"), "responses": answers,
                "summary": op.get("summary"), "description": op.get("description"),
            }  # fmt: skip
    return found


def test_the_tickets_http_contract_equals_its_snapshot(tmp_path: Path) -> None:
    settings = tickets_settings(
        OFFLINE_BUS, StoreSettings(sqlite_path=tmp_path / "t.sqlite"), relay_enabled=False
    )
    now = json.loads(json.dumps(operations(create_app(settings).openapi()), default=str))
    assert now == json.loads(SNAPSHOT.read_text(encoding="utf-8"))
