"""The embedded default: a local nats-server, every service and the web page, in one process.

SQLite stores and JetStream's files live under one data folder; every port is configurable
and bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from fastapi import FastAPI

from services.ledger.main import LedgerSettings
from services.ledger.main import create_app as create_ledger
from services.matching.main import MatchingSettings
from services.matching.main import create_app as create_matching
from services.notify.main import NotifySettings
from services.notify.main import create_app as create_notify
from services.runtime.bus import provision
from services.runtime.identity import AuthSettings
from services.runtime.nats_auth import bus_as, hashed_authorization, stored_passwords
from services.runtime.nats_server import EmbeddedNats, PortInUseError, is_port_free
from services.runtime.settings import BusSettings, StoreSettings
from services.tickets.main import TicketsSettings
from services.tickets.main import create_app as create_tickets
from shiliu import demo

DEFAULT_PORTS = {"tickets": 8701, "ledger": 8702, "matching": 8703, "notify": 8704}
_GRACE_SECONDS = 10.0
"""How long a stopping server may take before it is cancelled."""


@dataclass
class EmbeddedConfig:
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    nats_port: int = 14222
    nats_url: str | None = None
    """Use this NATS instead of starting one (the embedded server is then not started)."""
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    seed_demo: bool = True


class _QuietServer(uvicorn.Server):
    """Signals are handled once for the whole stack, not by each server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def demo_territory(data_dir: Path) -> Path:
    """The demo district's territory file, written once; edit it and restart to re-draw."""
    path = data_dir / "territory" / f"{demo.DISTRICT}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(demo.district_plan().model_dump_json(indent=1), encoding="utf-8")
    return path


def master_key(data_dir: Path, name: str) -> str:
    """The service's master key from the env, else one generated once into the data folder."""
    env = os.environ.get(f"SHILIU_{name.upper()}_MASTER_KEY")
    if env:
        return env
    path = data_dir / "keys" / f"{name}.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(base64.b64encode(os.urandom(32)).decode(), encoding="ascii")
    return path.read_text(encoding="ascii").strip()


def auth_keys(data_dir: Path) -> AuthSettings:
    """The embedded default's own token issuer: an Ed25519 key pair made once in the data folder.

    Services only need the public key; the private key signs the demo sign-in and `shiliu token`.
    """
    keys = data_dir / "keys"
    private, public = keys / "auth-signing.pem", keys / "auth-public.pem"
    if not private.exists():
        keys.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        private.touch(mode=0o600)
        private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        public.write_bytes(
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
    return AuthSettings(public_key_file=public, signing_key_file=private)


API_KEYS_ENV = "SHILIU_TICKETS_AUTH__API_KEYS_FILE"


def api_keys_file(data_dir: Path) -> Path:
    """Where the tickets service's API keys live: `SHILIU_TICKETS_AUTH__API_KEYS_FILE`, else
    `keys/api-keys.json` in the data folder."""
    return Path(os.environ.get(API_KEYS_ENV) or data_dir / "keys" / "api-keys.json")


def build_apps(
    config: EmbeddedConfig, bus: BusSettings, passwords: dict[str, str]
) -> dict[str, FastAPI]:
    """Every service, each on the bus as its own user."""
    data = config.data_dir
    auth = auth_keys(data)
    tickets_site = f"http://{config.host}:{config.ports['tickets']}"
    matching_site = f"http://{config.host}:{config.ports['matching']}"
    return {
        "tickets": create_tickets(
            TicketsSettings(
                store=StoreSettings(sqlite_path=data / "tickets.sqlite"),
                bus=bus_as("tickets", bus, passwords),
                master_key=master_key(data, "tickets"),
                auth=auth.model_copy(update={"api_keys_file": api_keys_file(data)}),
                territory_files=[demo_territory(data)],
                page_sites=[matching_site],
            )
        ),
        "ledger": create_ledger(
            LedgerSettings(
                store=StoreSettings(sqlite_path=data / "ledger.sqlite"),
                bus=bus_as("ledger", bus, passwords),
                auth=auth,
            )
        ),
        "matching": create_matching(
            MatchingSettings(
                store=StoreSettings(sqlite_path=data / "matching.sqlite"),
                bus=bus_as("matching", bus, passwords),
                master_key=master_key(data, "matching"),
                auth=auth,
                territory_files=[demo_territory(data)],
                signin_url=f"{tickets_site}/signin",
                board_url=f"{tickets_site}/board",
            )
        ),
        "notify": create_notify(NotifySettings(auth=auth)),
    }


def check_ports(config: EmbeddedConfig) -> None:
    for name, port in config.ports.items():
        if not is_port_free(config.host, port):
            msg = (
                f"port {port} for the {name} service is already in use on {config.host}. "
                f"Stop whatever holds it, or choose another with --{name}-port <port>."
            )
            raise PortInUseError(msg)


async def run_stack(
    config: EmbeddedConfig, *, on_ready: Callable[[dict[str, str]], None] | None = None
) -> None:
    """Start everything, seed the demo district on first start, and serve until signalled."""
    check_ports(config)
    passwords = stored_passwords(config.data_dir)
    nats = None
    if config.nats_url is None:
        authorization = await asyncio.to_thread(hashed_authorization, passwords)
        nats = EmbeddedNats(
            config.data_dir / "nats",
            host=config.host,
            port=config.nats_port,
            authorization=authorization,
        )
        nats.start()  # on the loop's own thread: the child dies with it (see nats_server)
    bus = BusSettings(url=config.nats_url or (nats.url if nats else ""))
    try:
        await provision(bus_as("operator", bus, passwords))
        servers = {
            name: _QuietServer(
                uvicorn.Config(app, host=config.host, port=config.ports[name], log_level="warning")
            )
            for name, app in build_apps(config, bus, passwords).items()
        }
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.create_task(server.serve()) for server in servers.values()]
        urls = {name: f"http://{config.host}:{config.ports[name]}" for name in servers}
        urls["nats"] = bus.url
        if await _started(servers.values(), tasks, stop) and await _unless_stopped(
            _seed_once(config, urls["tickets"], urls["matching"]), stop
        ):
            if on_ready:
                on_ready(urls)
            await asyncio.wait(
                [asyncio.create_task(stop.wait()), *tasks], return_when=asyncio.FIRST_COMPLETED
            )
        await _stop_servers(servers.values(), tasks)
    finally:
        if nats is not None:
            await asyncio.to_thread(nats.stop)


async def _started(
    servers: Iterable[uvicorn.Server], tasks: list[asyncio.Task[None]], stop: asyncio.Event
) -> bool:
    """Whether every server started before a signal came or one of them ended."""
    while not all(server.started for server in servers):
        if stop.is_set() or any(task.done() for task in tasks):
            return False
        await asyncio.sleep(0.05)
    return True


async def _unless_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run `work` unless a signal comes first (then it is cancelled); whether it finished."""
    doing, stopping = asyncio.create_task(work), asyncio.create_task(stop.wait())
    await asyncio.wait([doing, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not doing.done():
        doing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await doing
        return False
    doing.result()
    return True


async def _stop_servers(servers: Iterable[uvicorn.Server], tasks: list[asyncio.Task[None]]) -> None:
    """Ask every server to stop; one still starting (its service waiting for a bus that is
    gone) does not hear that, so after a grace period it is cancelled."""
    for server in servers:
        server.should_exit = True
    _, starting = await asyncio.wait(tasks, timeout=_GRACE_SECONDS)
    for task in starting:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _seed_once(config: EmbeddedConfig, tickets_url: str, matching_url: str) -> None:
    marker = config.data_dir / ".demo-seeded"
    if not config.seed_demo or marker.exists():
        return
    from shiliu.demo import seed

    key = auth_keys(config.data_dir).signing_key_file
    assert key is not None
    await seed(tickets_url, key.read_bytes(), matching_url=matching_url)
    marker.write_text("seeded\n", encoding="utf-8")
