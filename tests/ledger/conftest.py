"""The secured bus the delivery-fault tests run on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runtime.bus import provision
from tests.ledger.faults import Bus


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Bus]:
    bus = Bus(tmp_path)
    bus.server.start()
    try:
        asyncio.run(provision(bus.as_user("operator")))
        yield bus
    finally:
        bus.server.stop()
