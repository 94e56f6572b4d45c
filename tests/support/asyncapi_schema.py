"""The official AsyncAPI 3.0.0 JSON Schema, from the pinned `@asyncapi/specs` npm package.

Fetched once with `npm pack` (a package registry, no other network), checked against the
pinned integrity and cached under `.cache/asyncapi-specs/` at the repository root.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

SPECS_PACKAGE = "@asyncapi/specs"
SPECS_VERSION = "6.11.1"
SPECS_INTEGRITY = (
    "sha512-A3WBLqAKGoJ2+6FWFtpjBlCQ1oFCcs4GxF7zsIGvNqp/"
    "klGUHjlA3aAcZ9XMMpLGE8zPeYDz2x9FmO6DSuKraQ=="
)
"""As `npm view @asyncapi/specs@6.11.1 dist.integrity` reports it."""
SCHEMA_MEMBER = "package/schemas/3.0.0-without-$id.json"
"""The variant whose references are all local (`#/definitions/...`): no resolver needed."""

CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "asyncapi-specs"


def asyncapi_3_0_0_schema() -> dict[str, Any]:
    """The parsed schema; the first call on a machine runs `npm pack`."""
    cached = CACHE_DIR / SPECS_VERSION / Path(SCHEMA_MEMBER).name
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(cached, _schema_from_registry())
    schema: dict[str, Any] = json.loads(cached.read_bytes())
    return schema


def _schema_from_registry() -> bytes:
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as scratch:
        tarball = _npm_pack(Path(scratch))
        _check_integrity(tarball)
        with tarfile.open(tarball, "r:gz") as archive:
            member = archive.extractfile(SCHEMA_MEMBER)
            if member is None:
                msg = f"{SCHEMA_MEMBER} is not a regular file in {tarball.name}"
                raise RuntimeError(msg)
            return member.read()


def _npm_pack(destination: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        msg = f"npm is needed once to fetch {SPECS_PACKAGE}@{SPECS_VERSION} into {CACHE_DIR}"
        raise RuntimeError(msg)
    command = [npm, "pack", f"{SPECS_PACKAGE}@{SPECS_VERSION}", "--json"]
    command += ["--pack-destination", str(destination)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        msg = f"{' '.join(command[1:])} failed ({done.returncode}):\n{done.stderr}"
        raise RuntimeError(msg)
    return destination / json.loads(done.stdout)[0]["filename"]


def _check_integrity(tarball: Path) -> None:
    digest = hashlib.sha512(tarball.read_bytes()).digest()
    found = "sha512-" + base64.b64encode(digest).decode()
    if found != SPECS_INTEGRITY:
        msg = f"{tarball.name} has integrity {found}, expected {SPECS_INTEGRITY}"
        raise RuntimeError(msg)


def _write_atomically(path: Path, content: bytes) -> None:
    """Concurrent test workers may fetch at once; each renames a complete file into place."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
