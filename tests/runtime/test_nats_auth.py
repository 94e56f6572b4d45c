"""Bus passwords: made once, kept private, overridable from the environment; never printed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from events.access import BUS_USERS
from services.runtime.nats_auth import (
    BusPasswordError,
    bus_as,
    hashed_authorization,
    password_file,
    read_password,
    stored_password,
    stored_passwords,
)
from services.runtime.settings import BusSettings


@pytest.fixture(autouse=True)
def _no_password_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for user in BUS_USERS:
        monkeypatch.delenv(f"SHILIU_NATS_{user.name.upper()}_PASSWORD", raising=False)


def test_a_password_is_generated_once_into_a_file_only_its_owner_can_read(tmp_path: Path) -> None:
    first = stored_password(tmp_path, "tickets")
    assert stored_password(tmp_path, "tickets") == first
    assert first[0].isalpha()  # nats-server reads `$VAR` values as config: `12345` is a number
    assert first.isalnum()
    assert len(first) >= 40
    mode = stat.S_IMODE(password_file(tmp_path, "tickets").stat().st_mode)
    assert mode == 0o600
    assert len(set(stored_passwords(tmp_path).values())) == len(BUS_USERS)


def test_the_environment_overrides_the_stored_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert read_password(tmp_path, "operator") is None
    monkeypatch.setenv("SHILIU_NATS_OPERATOR_PASSWORD", "nFromTheVault")
    assert read_password(tmp_path, "operator") == "nFromTheVault"
    assert stored_password(tmp_path, "operator") == "nFromTheVault"
    assert not password_file(tmp_path, "operator").exists()


def test_the_generated_config_holds_hashes_not_passwords(tmp_path: Path) -> None:
    passwords = stored_passwords(tmp_path)
    config = hashed_authorization(passwords)
    assert config.count('"$2b$11$') == len(BUS_USERS)
    assert not any(password in config for password in passwords.values())


def test_a_password_bcrypt_would_truncate_is_refused() -> None:
    with pytest.raises(BusPasswordError, match="72 bytes"):
        hashed_authorization({user.name: "n" * 73 for user in BUS_USERS})


def test_bus_settings_never_show_the_password() -> None:
    bus = bus_as("ledger", BusSettings(), {"ledger": "nSecretValue"})
    assert bus.password == SecretStr("nSecretValue")
    for shown in (repr(bus), str(bus), bus.model_dump_json()):
        assert "nSecretValue" not in shown
    assert bus.auth_options() == {
        "user": "ledger",
        "password": "nSecretValue",
        "inbox_prefix": "_INBOX_ledger",
    }
