"""The scale-out docker-compose file, checked by construction: no Docker engine runs here."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from nats.aio.client import Client as NatsClient
from pydantic import BaseModel
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from events.access import BUS_USERS, OPERATOR_USER, bus_user
from services.ledger.main import LedgerSettings
from services.matching.main import MatchingSettings
from services.notify.main import NotifySettings
from services.runtime.nats_auth import compose_config, password_env
from services.runtime.settings import BusSettings
from services.tickets.main import TicketsSettings
from shiliu.cli import SERVICES, app

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
CONTAINERS: dict[str, dict[str, Any]] = COMPOSE["services"]
SETTINGS: dict[str, type[BaseSettings]] = {
    "tickets": TicketsSettings,
    "ledger": LedgerSettings,
    "matching": MatchingSettings,
    "notify": NotifySettings,
}
NATS_NODES = ("nats-1", "nats-2", "nats-3")
# `${NAME}`, `${NAME:?message}`, `${NAME:-default}` …: compose fills these from its environment.
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}")
_REQUIRED_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)


def _entrypoint() -> list[str]:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    [line] = [line for line in lines if line.startswith("ENTRYPOINT")]
    entrypoint: list[str] = json.loads(line.removeprefix("ENTRYPOINT"))
    return entrypoint


def _ours() -> Iterator[tuple[str, dict[str, Any]]]:
    """Containers whose image is built from our Dockerfile."""
    for name, container in CONTAINERS.items():
        build = container.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            assert (context, dockerfile or "Dockerfile") == (".", "Dockerfile"), name
            yield name, container


def _command(container: dict[str, Any]) -> list[str]:
    command = container.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def _served(container: dict[str, Any]) -> str | None:
    """The service a container runs with `shiliu serve <service>`, if any."""
    command = _command(container)
    return command[1] if command[:1] == ["serve"] else None


def _service_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, container in _ours():
        if _served(container) is not None:
            yield name, container


def _environment(container: dict[str, Any]) -> dict[str, str]:
    environment = container.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def _filled(value: str) -> str:
    """The value with each `${NAME…}` replaced by a dummy that passes validation."""

    def dummy(match: re.Match[str]) -> str:
        if match.group(1).endswith("MASTER_KEY"):
            return base64.b64encode(bytes(range(32))).decode()
        return f"dummy-{match.group(1).lower()}"

    return _REFERENCE.sub(dummy, value)


def _settings(container: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The service's settings, built from exactly the container's environment."""
    service = _served(container)
    assert service is not None
    for key in [key for key in os.environ if key.upper().startswith("SHILIU_")]:
        monkeypatch.delenv(key)
    for key, value in _environment(container).items():
        monkeypatch.setenv(key, _filled(value))
    return SETTINGS[service]()


def _os_environ() -> list[str]:
    import os

    return list(os.environ)


def _field_path_exists(model: type[BaseModel], path: list[str]) -> bool:
    field = model.model_fields.get(path[0])
    if field is None:
        return False
    if len(path) == 1:
        return True
    nested = field.annotation
    return (
        isinstance(nested, type)
        and issubclass(nested, BaseModel)
        and _field_path_exists(nested, path[1:])
    )


def _option(command: list[str], flag: str) -> str:
    for index, arg in enumerate(command):
        if arg == flag:
            return command[index + 1]
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{flag} missing from {command}")


def _published(container: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host ip, host port, container port) of each published port."""
    published = []
    for port in container.get("ports", []):
        if isinstance(port, dict):
            published.append(
                (port.get("host_ip", ""), str(port.get("published", "")), str(port["target"]))
            )
        else:
            parts = str(port).split(":")
            host_ip = parts[0] if len(parts) == 3 else ""
            published.append((host_ip, parts[-2] if len(parts) > 1 else "", parts[-1]))
    return published


def test_every_command_the_compose_file_runs_exists() -> None:
    assert _entrypoint() == ["shiliu"]
    runner = CliRunner()
    ours = dict(_ours())
    assert {"provision", *SERVICES} <= set(ours)
    for name, container in ours.items():
        assert "entrypoint" not in container, name
        command = _command(container)
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (name, command, result.output)
        if command[0] == "serve":
            assert command[1:] == [name], name
            assert name in SERVICES


def test_every_service_stores_on_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    schemas = []
    for name in ("tickets", "ledger"):
        environment = _environment(CONTAINERS[name])
        prefix = f"SHILIU_{name.upper()}_STORE__"
        assert environment[f"{prefix}KIND"] == "postgres"
        assert environment[f"{prefix}PG_HOST"] == "postgres"
        store = _settings(CONTAINERS[name], monkeypatch).store
        assert store.pg_dbname == _environment(CONTAINERS["postgres"])["POSTGRES_DB"]
        assert store.pg_user == _environment(CONTAINERS["postgres"])["POSTGRES_USER"]
        schemas.append(store.pg_schema)
    assert len(set(schemas)) == len(schemas)


def test_every_environment_variable_a_service_reads_is_a_known_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, container in _service_containers():
        service = _served(container)
        assert service is not None
        settings_class = SETTINGS[service]
        prefix = str(settings_class.model_config.get("env_prefix"))
        delimiter = str(settings_class.model_config.get("env_nested_delimiter"))
        for key in _environment(container):
            assert key.startswith(prefix), f"{name}: {key} is not read by {service}"
            path = key.removeprefix(prefix).lower().split(delimiter)
            assert _field_path_exists(settings_class, path), f"{name}: {key} is no setting"
        settings = _settings(container, monkeypatch)
        assert settings.host == "0.0.0.0", name


def test_every_nats_url_is_one_the_nats_client_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    urls = [_option(_command(CONTAINERS["provision"]), "--nats-url")]
    for _, container in _service_containers():
        bus = getattr(_settings(container, monkeypatch), "bus", None)
        if bus is not None:
            urls.append(bus.url)
    for url in urls:
        servers = BusSettings(url=url).servers  # how every service reads the setting
        NatsClient()._setup_server_pool(servers)  # what nats.connect does first; raises if invalid
        hosts = {urlparse(server).hostname for server in url.split(",")}
        assert hosts <= set(NATS_NODES), url


def test_each_service_listens_publishes_and_is_health_checked_on_one_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, container in _service_containers():
        port = str(_settings(container, monkeypatch).port)
        assert [target for _, _, target in _published(container)] == [port], name
        probe = " ".join(container["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/health/ready'" in probe, name  # readiness, not liveness


def test_services_start_after_provisioning_and_a_healthy_postgres() -> None:
    for name, _ in _service_containers():
        depends_on = CONTAINERS[name]["depends_on"]
        assert depends_on["provision"]["condition"] == "service_completed_successfully"
        assert depends_on["postgres"]["condition"] == "service_healthy"
    provision = CONTAINERS["provision"]
    assert provision.get("restart", "no") == "no"
    for node in NATS_NODES:
        assert provision["depends_on"][node]["condition"] == "service_healthy"
    assert "pg_isready" in CONTAINERS["postgres"]["healthcheck"]["test"]


def test_published_ports_bind_to_loopback() -> None:
    for name, container in CONTAINERS.items():
        for host_ip, _, _ in _published(container):
            assert host_ip == "127.0.0.1", name


def test_no_secret_is_written_in_the_compose_file() -> None:
    for name, container in CONTAINERS.items():
        for key, value in _environment(container).items():
            if _SECRET_NAME.search(key):
                assert _REQUIRED_REFERENCE.fullmatch(value), f"{name}: {key} holds a literal"


def test_the_nats_cluster_runs_jetstream_on_every_node() -> None:
    nodes = {
        name: c for name, c in CONTAINERS.items() if str(c.get("image", "")).startswith("nats:")
    }
    assert set(nodes) == set(NATS_NODES)
    cluster_names, volumes = set(), set()
    for name, container in nodes.items():
        command = _command(container)
        assert {"-js", "--jetstream"} & set(command), name
        assert _option(command, "--server_name") == name
        cluster_names.add(_option(command, "--cluster_name"))
        routes = {urlparse(route).hostname for route in _option(command, "--routes").split(",")}
        assert routes == set(NATS_NODES) - {name}, name
        store_dir = _option(command, "--store_dir")
        [volume] = [v for v in container["volumes"] if v.endswith(f":{store_dir}")]
        volumes.add(volume.split(":")[0])
        assert "/healthz" in " ".join(container["healthcheck"]["test"]), name
    assert len(cluster_names) == 1
    assert len(volumes) == len(NATS_NODES)
    assert volumes <= set(COMPOSE["volumes"])


def _reference(value: str) -> str:
    """The variable a required `${NAME:?message}` reference reads."""
    assert _REQUIRED_REFERENCE.fullmatch(value), value
    match = _REFERENCE.fullmatch(value)
    assert match is not None, value
    return match.group(1)


def test_every_service_on_the_bus_connects_as_its_own_user_with_a_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_the_bus = set()
    for name, container in _service_containers():
        service = _served(container)
        assert service is not None
        assert bus_user(service).name == service  # its user exists, bus or not yet
        if "bus" not in SETTINGS[service].model_fields:
            continue
        environment = _environment(container)
        prefix = f"SHILIU_{service.upper()}_BUS__"
        assert environment[f"{prefix}USER"] == service, name
        assert _reference(environment[f"{prefix}PASSWORD"]) == password_env(service), name
        bus = _settings(container, monkeypatch).bus
        assert bus.user == service
        assert bus.password is not None
        on_the_bus.add(service)
    assert {"tickets", "ledger", "matching"} <= on_the_bus


def test_provisioning_runs_as_the_operator_with_its_password_from_the_environment() -> None:
    environment = _environment(CONTAINERS["provision"])
    assert environment["SHILIU_NATS_USER"] == OPERATOR_USER.name
    assert _reference(environment["SHILIU_NATS_PASSWORD"]) == password_env(OPERATOR_USER.name)


def test_every_nats_node_admits_only_the_bus_users_of_the_generated_config() -> None:
    config = ROOT / "deploy" / "nats" / "authorization.conf"
    assert config.read_text(encoding="utf-8") == compose_config(), (
        "regenerate: python -m services.runtime.nats_auth > deploy/nats/authorization.conf"
    )
    for node in NATS_NODES:
        container = CONTAINERS[node]
        mounted = _option(_command(container), "--config")
        assert f"./deploy/nats/authorization.conf:{mounted}:ro" in container["volumes"], node
        environment = _environment(container)
        for user in BUS_USERS:
            variable = password_env(user.name)
            assert _reference(environment[variable]) == variable, (node, variable)
            assert f"${variable}" in config.read_text(encoding="utf-8")


def test_every_service_verifies_tokens_with_a_jwks_file_the_operator_mounts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verifying = set()
    for name, container in _service_containers():
        settings = _settings(container, monkeypatch)
        jwks = settings.auth.jwks_file
        assert jwks is not None, f"{name} verifies no tokens"
        [mount] = [v for v in container["volumes"] if v.endswith(f":{jwks}:ro")]
        assert _REQUIRED_REFERENCE.match(mount), f"{name}: {mount} is not the operator's path"
        verifying.add(_served(container))
    assert verifying == set(SERVICES)


def test_the_tickets_service_loads_a_territory_file_the_operator_mounts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    container = CONTAINERS["tickets"]
    [territory] = _settings(container, monkeypatch).territory_files
    [mount] = [v for v in container["volumes"] if v.endswith(f":{territory}:ro")]
    assert _REQUIRED_REFERENCE.match(mount), mount
