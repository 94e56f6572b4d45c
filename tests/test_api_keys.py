"""Open311 API keys on the embedded default: `shiliu api-key` makes one, `up` honours the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from services.runtime.settings import BusSettings
from shiliu import cli
from shiliu.embedded import API_KEYS_ENV, EmbeddedConfig, build_apps
from tests.conftest import SecuredBus
from tests.support.servers import serving


def _api_key(data_dir: Path, key_id: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, ["api-key", "--id", key_id, "--data-dir", str(data_dir)])
    return result.exit_code, result.output


@pytest.mark.parametrize("from_env", [False, True], ids=["data dir default", "setting"])
def test_a_key_made_by_the_api_key_command_posts_open311_requests_to_the_embedded_default(
    secured_bus: SecuredBus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, from_env: bool
) -> None:
    data_dir = secured_bus.data_dir
    keys = data_dir / "keys" / "api-keys.json"
    if from_env:
        keys = tmp_path / "elsewhere" / "open311-keys.json"
        monkeypatch.setenv(API_KEYS_ENV, str(keys))
    apps = build_apps(
        EmbeddedConfig(data_dir=data_dir), BusSettings(url=secured_bus.server.url),
        secured_bus.passwords,
    )  # fmt: skip
    with serving(apps["tickets"]) as url:
        code, output = _api_key(data_dir, "civic-app-1")  # while the service runs
        key = output.strip().splitlines()[-1]
        posted = httpx.post(
            f"{url}/open311/v2/requests.json",
            data={"api_key": key, "service_code": "roof_leak", "address_id": "c01/b001"},
        )
        again, _ = _api_key(data_dir, "civic-app-1")

    assert code == 0, output
    assert posted.status_code == 200, posted.text
    [record] = json.loads(keys.read_text(encoding="utf-8"))
    assert record == {
        "id": "civic-app-1", "sha256": hashlib.sha256(key.encode()).hexdigest(),
        "role": "community_staff", "scope": {"district": "jinfeng"},
    }  # fmt: skip
    assert key not in keys.read_text(encoding="utf-8")
    assert keys.stat().st_mode & 0o077 == 0
    assert again == 2, "an id is used once"
