"""Per-service NATS users on a real nats-server configured as the embedded default configures it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import nats
import pytest
from fastapi.testclient import TestClient
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import SecretStr
from typer.testing import CliRunner

from events.topology import LEDGER_WISHES, MATCHING_STREAM, TICKETS_STREAM
from services.ledger.main import LedgerSettings
from services.ledger.main import create_app as create_ledger
from services.runtime.bus import consumer_config, make_broker, provision, stream_config
from services.runtime.consumer import PullLoop
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import create_app as create_tickets
from shiliu.cli import app as cli
from tests.conftest import SecuredBus, eventually, tickets_settings
from tests.support.tokens import auth_settings, bearer
from tests.tickets.helpers import RESIDENT, STAFF, posting

WISH_SUBJECT = "shiliu.jinfeng.c01.tickets.wish.posted"


class Violations:
    """What the server reported to a connection's error callback."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._reported = asyncio.Event()

    async def record(self, error: Exception) -> None:
        self.errors.append(str(error).lower())
        self._reported.set()

    async def wait_for(self, text: str) -> str:
        """The first report containing `text`, waiting up to five seconds for it."""
        async with asyncio.timeout(5.0):
            while not (found := [error for error in self.errors if text in error]):
                self._reported.clear()
                await self._reported.wait()
        return found[0]


@asynccontextmanager
async def connected(bus: BusSettings, violations: Violations) -> AsyncIterator[Client]:
    client = await nats.connect(
        bus.servers, error_cb=violations.record, allow_reconnect=False, **bus.auth_options()
    )
    try:
        yield client
    finally:
        await client.close()


def _server_log(secured_bus: SecuredBus) -> str:
    return (secured_bus.server.store_dir / "nats-server.log").read_text(encoding="utf-8")


async def _stream_messages(operator: BusSettings, stream: str) -> int:
    async with connected(operator, Violations()) as client:
        info = await client.jetstream().stream_info(stream)
        return info.state.messages


async def _publish_wishes(tickets: BusSettings, count: int) -> list[tuple[str, int]]:
    """Publish as the relay does; the (stream, sequence) of each ack."""
    broker = make_broker(tickets, name="shiliu-tickets")
    await broker.connect()
    acks = []
    try:
        for _ in range(count):
            ack = await broker.publish(
                b"{}",
                WISH_SUBJECT,
                headers={"Nats-Msg-Id": str(uuid.uuid4())},
                stream=TICKETS_STREAM.name,
                timeout=5.0,
            )
            assert ack is not None
            acks.append((ack.stream, ack.seq))
    finally:
        await broker.stop()
    return acks


def test_the_tickets_user_publishes_its_wish_subjects_into_the_stream_and_gets_an_ack(
    secured_bus: SecuredBus,
) -> None:
    acks = asyncio.run(_publish_wishes(secured_bus.as_user("tickets"), count=2))
    assert acks == [(TICKETS_STREAM.name, 1), (TICKETS_STREAM.name, 2)]


def test_the_tickets_user_cannot_publish_a_ledger_or_matching_subject(
    secured_bus: SecuredBus,
) -> None:
    tickets = secured_bus.as_user("tickets")

    async def scenario() -> list[str]:
        violations = Violations()
        reported = []
        async with connected(tickets, violations) as client:
            for subject in (
                "shiliu.jinfeng.c01.matching.match.proposed",
                "shiliu.jinfeng.c01.ledger.figures.changed",
                f"$JS.API.STREAM.DELETE.{TICKETS_STREAM.name}",
            ):
                await client.publish(subject, b"{}")
                reported.append(await violations.wait_for(f'publish to "{subject.lower()}"'))
            with pytest.raises(NatsTimeoutError):  # no ack ever comes: the server dropped it
                await client.jetstream().publish(
                    "shiliu.jinfeng.c01.matching.match.proposed",
                    b"{}",
                    stream=MATCHING_STREAM.name,
                    timeout=1.0,
                )
        return reported

    reported = asyncio.run(scenario())
    assert all("permissions violation" in error for error in reported)
    operator = secured_bus.as_user("operator")
    assert asyncio.run(_stream_messages(operator, MATCHING_STREAM.name)) == 0
    assert asyncio.run(_stream_messages(operator, TICKETS_STREAM.name)) == 0


def test_the_ledger_user_cannot_publish_the_tickets_subjects(secured_bus: SecuredBus) -> None:
    async def scenario() -> str:
        violations = Violations()
        async with connected(secured_bus.as_user("ledger"), violations) as client:
            await client.publish(WISH_SUBJECT, b"{}", headers={"Nats-Msg-Id": "forged"})
            return await violations.wait_for("permissions violation for publish")

    assert WISH_SUBJECT in asyncio.run(scenario())
    operator = secured_bus.as_user("operator")
    assert asyncio.run(_stream_messages(operator, TICKETS_STREAM.name)) == 0


def test_a_service_cannot_listen_to_another_services_replies_or_the_raw_subjects(
    secured_bus: SecuredBus,
) -> None:
    async def scenario() -> list[str]:
        violations = Violations()
        async with connected(secured_bus.as_user("ledger"), violations) as client:
            for subject in ("_INBOX_tickets.>", "_INBOX.>", "shiliu.>"):
                await client.subscribe(subject)
                await violations.wait_for(f'subscription to "{subject.lower()}"')
        return violations.errors

    assert all("permissions violation" in error for error in asyncio.run(scenario()))


def test_the_ledger_user_fetches_and_acks_from_its_durable_consumer(
    secured_bus: SecuredBus,
) -> None:
    asyncio.run(_publish_wishes(secured_bus.as_user("tickets"), count=3))

    async def scenario() -> tuple[int, int]:
        received: list[str] = []
        all_received = asyncio.Event()

        async def handle(batch: Sequence[Msg]) -> None:
            for message in batch:
                await message.ack()
                received.append(message.subject)
            if len(received) >= 3:
                all_received.set()

        loop = PullLoop(secured_bus.as_user("ledger"), LEDGER_WISHES, handle, fetch_seconds=0.2)
        task = asyncio.create_task(loop.run())
        try:
            await asyncio.wait_for(all_received.wait(), timeout=10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        async with connected(secured_bus.as_user("operator"), Violations()) as client:
            info = await client.jetstream().consumer_info(
                LEDGER_WISHES.stream, LEDGER_WISHES.durable
            )
        return info.ack_floor.stream_seq, info.num_ack_pending

    assert asyncio.run(scenario()) == (3, 0)


@pytest.mark.parametrize("password", [None, "guess"], ids=["no-user", "wrong-password"])
def test_a_connection_without_a_user_or_with_a_wrong_password_is_refused(
    secured_bus: SecuredBus, password: str | None
) -> None:
    bus = BusSettings(url=secured_bus.server.url)
    if password is not None:
        bus = bus.model_copy(update={"user": "tickets", "password": SecretStr(password)})

    async def attempt() -> None:
        client = await nats.connect(bus.servers, allow_reconnect=False, **bus.auth_options())
        await client.close()

    with pytest.raises(NatsError, match="Authorization Violation"):
        asyncio.run(attempt())


def test_the_whole_lifecycle_reaches_the_ledger_with_every_service_on_its_own_user(
    secured_bus: SecuredBus,
) -> None:
    data = secured_bus.data_dir
    tickets_app = create_tickets(
        tickets_settings(
            secured_bus.as_user("tickets"), StoreSettings(sqlite_path=data / "tickets.sqlite")
        )
    )
    ledger_app = create_ledger(
        LedgerSettings(
            store=StoreSettings(sqlite_path=data / "ledger.sqlite"),
            bus=secured_bus.as_user("ledger"),
            auth=auth_settings(),
        )
    )
    auditor = bearer("auditor-1", "auditor", scope={})
    with TestClient(tickets_app) as tickets, TestClient(ledger_app, headers=auditor) as ledger:
        wish_id = tickets.post("/wishes", json=posting(), headers=RESIDENT).json()["wish"]["id"]
        tickets.post(f"/wishes/{wish_id}/verification", headers=STAFF).raise_for_status()

        def open_in_ledger() -> bool:
            figures = ledger.get("/ledger/jinfeng/c01/wishes").json()
            return bool(figures.get("wishes") == figures.get("by_state", {}).get("open") == 1)

        eventually(open_in_ledger)
        url = ["--nats-url", secured_bus.server.url, "--data-dir", str(data)]
        status = CliRunner().invoke(cli, ["status", *url])
        assert status.exit_code == 0, status.output
        assert TICKETS_STREAM.name in status.output
        assert "missing" not in status.output
        rebuild = CliRunner().invoke(cli, ["rebuild-ledger", *url])
        assert rebuild.exit_code == 0, rebuild.output
        assert "rebuild equals the live ledger" in rebuild.output
    for password in secured_bus.passwords.values():
        assert password not in status.output + rebuild.output
    assert "Violation" not in _server_log(secured_bus)  # nothing was refused along the way


def test_the_operator_migrates_a_drifted_stream_and_consumer(secured_bus: SecuredBus) -> None:
    operator = secured_bus.as_user("operator")

    async def drift() -> None:
        async with connected(operator, Violations()) as client:
            js = client.jetstream()
            stream = stream_config(TICKETS_STREAM)
            stream.duplicate_window = 60.0
            await js.update_stream(stream)
            consumer = consumer_config(LEDGER_WISHES)
            consumer.max_ack_pending = 10
            await js.add_consumer(LEDGER_WISHES.stream, consumer)

    asyncio.run(drift())
    assert len(asyncio.run(provision(operator))) == 2
    assert asyncio.run(provision(operator, migrate=True)) == []
    assert asyncio.run(provision(operator)) == []
    assert "Violation" not in _server_log(secured_bus)


def test_the_operator_cli_reads_its_credentials_from_the_environment_or_the_data_folder(
    secured_bus: SecuredBus, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runner = CliRunner()
    url = ["--nats-url", secured_bus.server.url]
    from_folder = runner.invoke(cli, ["provision", *url, "--data-dir", str(secured_bus.data_dir)])
    assert from_folder.exit_code == 0, from_folder.output
    assert "as declared" in from_folder.output

    monkeypatch.setenv("SHILIU_NATS_USER", "operator")
    monkeypatch.setenv("SHILIU_NATS_PASSWORD", secured_bus.passwords["operator"])
    from_env = runner.invoke(cli, ["provision", *url, "--data-dir", str(tmp_path)])
    assert from_env.exit_code == 0, from_env.output
    assert secured_bus.passwords["operator"] not in from_folder.output + from_env.output
