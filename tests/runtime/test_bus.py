"""Provisioning, the embedded nats-server, and the operator's status view."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import nats
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from events.topology import LEDGER_WISHES
from services.runtime.bus import consumer_config, provision
from services.runtime.nats_server import EmbeddedNats, PortInUseError, free_port
from services.runtime.settings import BusSettings
from shiliu.cli import app as cli
from tests.conftest import eventually
from tests.tickets.helpers import RESIDENT, posting


async def _change_max_deliver(bus: BusSettings, max_deliver: int) -> None:
    client = await nats.connect(bus.url)
    config = consumer_config(LEDGER_WISHES)
    config.max_deliver = max_deliver
    await client.jetstream().add_consumer(LEDGER_WISHES.stream, config)
    await client.close()


def test_provisioning_reports_a_drifted_consumer_and_migrates_it_only_when_asked(
    bus: BusSettings,
) -> None:
    assert asyncio.run(provision(bus)) == []
    asyncio.run(_change_max_deliver(bus, 7))

    drifts = asyncio.run(provision(bus))
    assert [(d.name, d.field, d.declared, d.actual) for d in drifts] == [
        ("ledger-wishes", "max_deliver", LEDGER_WISHES.max_deliver, 7)
    ]
    assert asyncio.run(provision(bus)) == drifts  # reporting changes nothing
    assert asyncio.run(provision(bus, migrate=True)) == []
    assert asyncio.run(provision(bus)) == []


def test_the_embedded_server_refuses_a_taken_port_and_says_what_to_do(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUseError, match=r"SHILIU_NATS_PORT"):
            EmbeddedNats(tmp_path, port=port).start()


def test_the_embedded_server_listens_on_loopback_with_jetstream_in_the_data_folder(
    tmp_path: Path,
) -> None:
    server = EmbeddedNats(tmp_path / "nats", port=free_port())
    server.start()
    try:
        assert asyncio.run(provision(BusSettings(url=server.url))) == []
        assert (tmp_path / "nats" / "jetstream").is_dir()
        assert 'listen: "127.0.0.1:' in server.config_text()
    finally:
        server.stop()


def test_status_shows_stream_positions_consumer_lag_and_parked_messages(
    tickets: TestClient, ledger: TestClient, bus: BusSettings
) -> None:
    tickets.post("/wishes", json=posting(), headers=RESIDENT).raise_for_status()
    eventually(lambda: ledger.get("/ops/consumer").json()["applied"] == 1)
    result = CliRunner().invoke(
        cli,
        ["status", "--nats-url", bus.url, "--tickets-url", "http://127.0.0.1:9",
         "--ledger-url", "http://127.0.0.1:9"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "SHILIU_TICKETS" in result.output
    assert "ledger-wishes" in result.output
    assert "tickets not reachable" in result.output
