"""The test suite runs offline beyond loopback, and CI cannot skip what it must run."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import in_ci
from tests.support.asyncapi_schema import (
    SCHEMA_FILE,
    SchemaIntegrityError,
    asyncapi_3_0_0_schema,
)
from tests.support.loopback import BeyondLoopbackError

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_with_ci_set(tmp_path: Path) -> None:
    (tmp_path / ".ci").mkdir()
    shutil.copy2(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "run").write_text('#!/usr/bin/env bash\necho "CI=${CI:-unset} $*"\n')
    (tmp_path / "run").chmod(0o755)

    done = subprocess.run(
        [str(tmp_path / ".ci" / "run")], env={"PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip

    assert done.stdout.strip() == "CI=true test -q"


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("1", True), ("false", False), ("", False)]
)
def test_only_a_true_ci_variable_turns_skips_into_failures(
    value: str, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected


def test_a_connection_beyond_loopback_fails_at_once_in_a_test() -> None:
    with pytest.raises(BeyondLoopbackError, match="beyond loopback"):
        socket.create_connection(("192.0.2.1", 443), timeout=5)  # TEST-NET-1
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        socket.create_connection(listener.getsockname(), timeout=5).close()


def test_the_asyncapi_schema_is_the_vendored_file_with_its_pinned_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm, no network tool of any kind
    assert asyncapi_3_0_0_schema()["title"] == "AsyncAPI 3.0.0 schema."
    assert (SCHEMA_FILE.parent / "LICENSE").read_text().lstrip().startswith("Apache License")

    tampered = tmp_path / SCHEMA_FILE.name
    tampered.write_bytes(SCHEMA_FILE.read_bytes().replace(b'"3.0.0"', b'"3.0.1"', 1))
    with pytest.raises(SchemaIntegrityError):
        asyncapi_3_0_0_schema(tampered)
