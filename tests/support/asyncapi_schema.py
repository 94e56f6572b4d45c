"""The official AsyncAPI 3.0.0 JSON Schema, vendored from `@asyncapi/specs` 6.11.1.

Read from `tests/support/asyncapi/` (see its README.md for provenance and licence) and checked
against its pinned SHA-256, so the tests make no network call for it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("asyncapi") / "asyncapi-3.0.0-without-id.schema.json"
"""`package/schemas/3.0.0-without-$id.json`: its references are all local, no resolver needed."""
SCHEMA_SHA256 = "abe96881dbfaad495ccbb6bd8d3fb43ca18a13b9d7564849ccb66f39d5e5b20f"


class SchemaIntegrityError(RuntimeError):
    """The vendored schema is not the pinned file."""


def asyncapi_3_0_0_schema(path: Path = SCHEMA_FILE) -> dict[str, Any]:
    """The parsed schema, after checking its hash."""
    content = path.read_bytes()
    found = hashlib.sha256(content).hexdigest()
    if found != SCHEMA_SHA256:
        msg = f"{path.name} has SHA-256 {found}, expected {SCHEMA_SHA256}"
        raise SchemaIntegrityError(msg)
    schema: dict[str, Any] = json.loads(content)
    return schema
