"""After seeding, no store file, log or bus message holds a seeded phone number in plaintext.

The demo district is seeded through a real stack: tickets and ledger served by uvicorn, a real
nats-server, SQLite files, every log record written to a file at DEBUG.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest

from services.ledger.main import LedgerSettings
from services.ledger.main import create_app as create_ledger
from services.matching.main import create_app as create_matching
from services.runtime.nats_server import EmbeddedNats
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import create_app as create_tickets
from shiliu.demo import DISTRICT, communities, contact, seed
from shiliu.demo_units import unit_ids, unit_phone
from tests.conftest import eventually, tickets_settings
from tests.support.matching import matching_settings
from tests.support.servers import serving
from tests.support.tokens import auth_settings, bearer

PER_COMMUNITY = 1
TITLE = "吃一顿热腾腾的饺子"
HOME = {"district": DISTRICT, "street": communities()[0].street, "community": "c01"}


@contextlib.contextmanager
def recording_logs(path: Path) -> Iterator[None]:
    """Every logger's records, at DEBUG, also into `path` (uvicorn's and FastStream's loggers
    do not propagate, so they get the handler themselves)."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    loggers = [root] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
        handler.close()


async def bus_messages(url: str) -> list[bytes]:
    """Every message kept on every JetStream stream, payload and headers."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        found = []
        for stream in await js.streams_info():
            if not stream.state.messages:
                continue
            for seq in range(stream.state.first_seq, stream.state.last_seq + 1):
                message = await js.get_msg(stream.config.name or "", seq)
                found.append((message.data or b"") + repr(message.headers).encode())
        return found
    finally:
        await client.close()


def seeded_phones() -> list[str]:
    return [contact(c, n)["phone"] for c in communities() for n in range(PER_COMMUNITY)]


def files_under(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.mark.real_registry
def test_after_seeding_no_store_file_log_or_bus_message_contains_a_seeded_phone_number(
    tmp_path: Path, nats_server: EmbeddedNats, bus: BusSettings, stores: dict[str, StoreSettings]
) -> None:
    auth = auth_settings()
    assert auth.signing_key_file is not None
    tickets_app = create_tickets(tickets_settings(bus, stores["tickets"]))
    ledger_app = create_ledger(LedgerSettings(store=stores["ledger"], bus=bus, auth=auth))
    matching_store = StoreSettings(sqlite_path=tmp_path / "matching.sqlite")
    matching_app = create_matching(matching_settings(bus, matching_store))
    log_file = tmp_path / "shiliu.log"
    operator = bearer("operator-1", "operator", scope={})
    auditor = bearer("auditor-1", "auditor", scope={})
    with (
        serving(tickets_app) as tickets, serving(ledger_app) as ledger,
        serving(matching_app) as matching, recording_logs(log_file),
    ):  # fmt: skip
        key = auth.signing_key_file.read_bytes()
        seeding = seed(tickets, key, matching_url=matching, wishes_per_community=PER_COMMUNITY)
        posted = asyncio.run(seeding)
        assert posted == len(communities()) * PER_COMMUNITY
        eventually(lambda: httpx.get(f"{tickets}/ops/relay", headers=operator).json()["lag"] == 0)
        eventually(
            lambda: (
                sum(
                    row["wishes"]
                    for row in httpx.get(f"{ledger}/ledger/jinfeng/wishes", headers=auditor).json()
                )
                == posted
            )
        )
        first = httpx.get(
            f"{tickets}/wishes", params={"district": "jinfeng", "community": "c01"},
            headers=operator,
        ).json()["items"][0]  # fmt: skip
        revealed = httpx.get(
            f"{tickets}/wishes/{first['wish_id']}/contact", params={"reason": "核对种子数据"},
            headers=bearer("staff-c01", "community_staff", scope=HOME),
        ).json()  # fmt: skip
        messages = asyncio.run(bus_messages(nats_server.url))
    nats_server.stop()  # JetStream's files are complete once it has shut down

    phones = seeded_phones()
    unit_phones = [unit_phone(u) for c in communities() for u in unit_ids(c.code)]
    assert revealed["phone"] == phones[0], "the seeded wishes carry contact details"
    logs = log_file.read_text(encoding="utf-8")
    assert "POST /wishes" in logs, "the uvicorn access log was recorded"
    files = files_under(tmp_path)
    assert {"tickets.sqlite", "ledger.sqlite", "matching.sqlite", "shiliu.log"} <= {
        p.name for p in files
    }
    jetstream = b"".join(data for path, data in files.items() if "jetstream" in path.parts)
    assert TITLE.encode() in jetstream, "the scan reads the stored bus messages"
    assert len(messages) >= posted

    for phone in [*phones, *unit_phones]:
        secret = phone.encode()
        assert not [path for path, data in files.items() if secret in data], phone
        assert phone not in logs
        assert not [m for m in messages if secret in m], phone
