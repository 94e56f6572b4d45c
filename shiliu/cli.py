"""`shiliu`: start everything or one service, seed demo data, and show the bus's state.

Longer than ~300 lines because it is one Typer app with one short command per operator task
(start, serve, provision, seed, status, tokens and API keys, parked messages and retries,
rebuilds); each command only parses its options and calls the services' own code.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Coroutine
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import nats
import typer
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import OKPAlgorithm
from nats.js.errors import NotFoundError
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.table import Table

from events.access import OPERATOR_USER
from events.envelope import Role
from events.topology import CONSUMERS, STREAMS
from services.runtime.bus import provision as provision_bus
from services.runtime.identity import (
    ApiKeyExistsError,
    Claims,
    Scope,
    create_api_key,
    issue_token,
)
from services.runtime.nats_auth import read_password
from services.runtime.nats_server import NatsServerError
from services.runtime.settings import BusSettings, StoreKind, StoreSettings
from shiliu.embedded import DEFAULT_PORTS, EmbeddedConfig, api_keys_file, auth_keys, run_stack

app = typer.Typer(
    help="Shiliu (石榴): co-governance of embedded communities.", no_args_is_help=True
)
console = Console()
T = TypeVar("T")
NatsUrl = Annotated[str, typer.Option(help="NATS to talk to", envvar="SHILIU_NATS_URL")]
BusDataDir = Annotated[
    Path,
    typer.Option(help="the embedded default's data folder (holds the bus operator's password)"),
]
DEFAULT_NATS = "nats://127.0.0.1:14222"
SERVICES = ("tickets", "ledger", "matching", "notify")


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="where stores and JetStream live")] = Path("data"),
    nats_port: Annotated[int, typer.Option(envvar="SHILIU_NATS_PORT")] = 14222,
    nats_url: Annotated[str | None, typer.Option(help="use this NATS instead")] = None,
    tickets_port: Annotated[int, typer.Option(envvar="SHILIU_TICKETS_PORT")] = 8701,
    ledger_port: Annotated[int, typer.Option(envvar="SHILIU_LEDGER_PORT")] = 8702,
    matching_port: Annotated[int, typer.Option(envvar="SHILIU_MATCHING_PORT")] = 8703,
    notify_port: Annotated[int, typer.Option(envvar="SHILIU_NOTIFY_PORT")] = 8704,
    demo: Annotated[bool, typer.Option(help="seed the demo district on first start")] = True,
) -> None:
    """Start Shiliu on the embedded default: local nats-server, every service, SQLite."""
    ports = {"tickets": tickets_port, "ledger": ledger_port, "matching": matching_port,
             "notify": notify_port}  # fmt: skip
    config = EmbeddedConfig(
        data_dir=data_dir, nats_port=nats_port, nats_url=nats_url, ports=ports, seed_demo=demo
    )
    try:
        asyncio.run(run_stack(config, on_ready=_announce))
    except NatsServerError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None


def _announce(urls: dict[str, str]) -> None:
    table = Table(title="Shiliu is up (Ctrl-C stops it)")
    table.add_column("part")
    table.add_column("address")
    for name, url in urls.items():
        table.add_row(name, url)
    table.add_row("wish board (web)", f"{urls['tickets']}/board/jinfeng/c01")
    table.add_row("ledger", f"{urls['ledger']}/ledger/jinfeng/c01/wishes")
    table.add_row("AsyncAPI", f"{urls['tickets']}/asyncapi.json")
    console.print(table)


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="tickets | ledger | matching | notify")],
) -> None:
    """Run one service alone, configured from its environment (SHILIU_<SERVICE>_…)."""
    if service not in SERVICES:
        console.print(f"[red]error:[/red] unknown service {service!r}; one of {SERVICES}")
        raise typer.Exit(2)
    module = __import__(f"services.{service}.main", fromlist=["create_app"])
    settings = getattr(module, f"{service.capitalize()}Settings")()
    uvicorn.run(module.create_app(settings), host=settings.host, port=settings.port)


@app.command()
def provision(
    nats_url: NatsUrl = DEFAULT_NATS,
    migrate: Annotated[bool, typer.Option(help="update drifted streams/consumers")] = False,
    replicas: Annotated[
        int, typer.Option(min=1, max=5, help="stream replicas (3 on a cluster)")
    ] = 1,
    data_dir: BusDataDir = Path("data"),
) -> None:
    """Create the bus's streams and durable consumers (the one owner of them)."""
    bus = _operator_bus(nats_url, data_dir)
    drifts = _on_the_bus(bus, provision_bus(bus, migrate=migrate, replicas=replicas))
    for drift in drifts:
        console.print(
            f"[yellow]drift[/yellow] {drift.kind} {drift.name}.{drift.field}: "
            f"declared {drift.declared!r}, server has {drift.actual!r}"
        )
    if drifts:
        console.print("re-run with --migrate to apply the declared settings")
        raise typer.Exit(1)
    console.print("streams and consumers are as declared")


@app.command()
def seed(
    tickets_url: Annotated[str, typer.Option()] = f"http://127.0.0.1:{DEFAULT_PORTS['tickets']}",
    matching_url: Annotated[
        str | None, typer.Option(help="also seed the demo units and lists there")
    ] = None,
    per_community: Annotated[int, typer.Option(min=1, max=100)] = 5,
    data_dir: Annotated[Path, typer.Option(help="holds the demo signing key")] = Path("data"),
) -> None:
    """Seed the demo district's wishes through the tickets service's HTTP API."""
    from shiliu.demo import seed as seed_demo

    key = auth_keys(data_dir).signing_key_file
    assert key is not None
    posted = asyncio.run(
        seed_demo(
            tickets_url,
            key.read_bytes(),
            matching_url=matching_url,
            wishes_per_community=per_community,
        )
    )
    console.print(f"seeded {posted} wishes")


@app.command()
def status(
    nats_url: NatsUrl = DEFAULT_NATS,
    tickets_url: Annotated[str, typer.Option()] = f"http://127.0.0.1:{DEFAULT_PORTS['tickets']}",
    ledger_url: Annotated[str, typer.Option()] = f"http://127.0.0.1:{DEFAULT_PORTS['ledger']}",
    data_dir: Annotated[
        Path, typer.Option(help="signs the operator's token; holds its bus password")
    ] = Path("data"),
) -> None:
    """Streams, consumer positions and lag, relay lag, and parked messages."""
    headers = _operator_headers(data_dir)
    bus = _operator_bus(nats_url, data_dir)
    report = _on_the_bus(bus, _bus_report(bus))
    streams = Table(title="streams")
    for column in ("stream", "messages", "first seq", "last seq"):
        streams.add_column(column)
    for row in report["streams"]:
        streams.add_row(*map(str, row))
    consumers = Table(title="consumers")
    for column in (
        "consumer",
        "delivered",
        "acked",
        "lag (pending)",
        "awaiting ack",
        "redelivered",
    ):
        consumers.add_column(column)
    for row in report["consumers"]:
        consumers.add_row(*map(str, row))
    console.print(streams, consumers)
    relay = _get_json(f"{tickets_url}/ops/relay", headers)
    console.print(f"tickets relay: {relay if relay is not None else 'tickets not reachable'}")
    ledger = _get_json(f"{ledger_url}/ops/consumer", headers)
    if ledger is None:
        console.print("ledger: not reachable")
        return
    for line in ledger_lines(ledger):
        console.print(line)


def ledger_lines(ledger: dict[str, Any]) -> list[str]:
    """What `status` says of the ledger (its `/ops/consumer`): gaps, held and parked messages,
    and loops that failed or do not run."""
    gaps = ledger["gaps"]
    lines = [
        f"ledger gaps: {gaps.get('detected', 0)} detected, {gaps.get('repaired', 0)} repaired "
        f"({gaps.get('events_repaired', 0)} events fetched from the sources), "
        f"{gaps.get('open', 0)} open",
        f"held messages (ledger, waiting behind a gap): {ledger.get('held', 0)}",
    ]
    for gap in ledger.get("open_gaps", []):
        lines.append(
            f"[yellow]open gap[/yellow] {gap['consumer']} {gap['feed']}: events "
            f"{gap['after'] + 1}..{gap['until']} missing since {gap['detected_at']} "
            f"({gap['open_seconds']:.0f}s)"
        )
    lines.append(f"parked messages (ledger): {ledger['parked']}")
    for name, loop in ledger["loops"].items():
        if not loop["running"] or loop["failures"] or not loop.get("working", True):
            lines.append(f"[yellow]loop {name}[/yellow]: {loop}")
    return lines


def _operator_headers(data_dir: Path) -> dict[str, str]:
    key = data_dir / "keys" / "auth-signing.pem"
    if not key.exists():
        return {}
    claims = Claims(sub="cli-operator", role=Role.OPERATOR)
    return {"Authorization": f"Bearer {issue_token(key.read_bytes(), claims)}"}


def _get_json(url: str, headers: dict[str, str]) -> Any:
    try:
        response = httpx.get(url, headers=headers, timeout=3.0)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    return response.json()


def _operator_bus(url: str, data_dir: Path) -> BusSettings:
    """The bus as its operator: SHILIU_NATS_USER and SHILIU_NATS_PASSWORD if set, else the
    embedded default's operator password; no user at all for an open NATS."""
    user = os.environ.get("SHILIU_NATS_USER")
    password = os.environ.get("SHILIU_NATS_PASSWORD")
    if not user:
        user, password = OPERATOR_USER.name, read_password(data_dir, OPERATOR_USER.name)
    if password is None:
        return BusSettings(url=url)
    return BusSettings(url=url, user=user, password=SecretStr(password))


def _on_the_bus(bus: BusSettings, work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; a bus that cannot be reached or refuses the operator ends with a clear error."""
    try:
        return asyncio.run(work)
    except nats.errors.Error as error:
        console.print(
            f"[red]error:[/red] the bus at {bus.url} ({bus.user or 'no user'}): {error}. "
            "The operator's password comes from --data-dir, or set SHILIU_NATS_USER and "
            "SHILIU_NATS_PASSWORD."
        )
        raise typer.Exit(2) from None


async def _bus_report(bus: BusSettings) -> dict[str, list[tuple[object, ...]]]:
    client = await nats.connect(
        bus.servers, connect_timeout=3, max_reconnect_attempts=1, **bus.auth_options()
    )
    try:
        js = client.jetstream()
        streams: list[tuple[object, ...]] = []
        for spec in STREAMS:
            try:
                s = (await js.stream_info(spec.name)).state
                streams.append((spec.name, s.messages, s.first_seq, s.last_seq))
            except NotFoundError:
                streams.append((spec.name, "missing", "-", "-"))
        consumers: list[tuple[object, ...]] = []
        for c in CONSUMERS:
            try:
                info = await js.consumer_info(c.stream, c.durable)
                delivered, acked = info.delivered.stream_seq, info.ack_floor.stream_seq
                consumers.append(
                    (c.durable, delivered, acked, info.num_pending, info.num_ack_pending,
                     info.num_redelivered)
                )  # fmt: skip
            except NotFoundError:
                consumers.append((c.durable, "missing", "-", "-", "-", "-"))
        return {"streams": streams, "consumers": consumers}
    finally:
        await client.close()


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="the role the bearer acts in")],
    sub: Annotated[str, typer.Option(help="the bearer's id")],
    district: Annotated[str | None, typer.Option()] = "jinfeng",
    street: Annotated[str | None, typer.Option()] = None,
    community: Annotated[str | None, typer.Option()] = None,
    grid: Annotated[str | None, typer.Option()] = None,
    person: Annotated[str | None, typer.Option(help="residents: their person id")] = None,
    unit: Annotated[str | None, typer.Option(help="unit staff: their unit")] = None,
    hours: Annotated[float, typer.Option(min=0.01, max=24 * 30)] = 8,
    data_dir: Annotated[Path, typer.Option(help="holds the signing key")] = Path("data"),
) -> None:
    """Issue a signed token with the embedded default's key (for scripts and API clients)."""
    key = data_dir / "keys" / "auth-signing.pem"
    if not key.exists():
        console.print(f"[red]error:[/red] no signing key at {key}; start `shiliu up` once first")
        raise typer.Exit(2)
    try:
        scope = Scope(district=district, street=street, community=community, grid=grid)
        claims = Claims(sub=sub, role=role, scope=scope, person=person, unit=unit)
    except ValidationError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    typer.echo(issue_token(key.read_bytes(), claims, lifetime=timedelta(hours=hours)))


@app.command("api-key")
def api_key(
    key_id: Annotated[str, typer.Option("--id", help="names the client, e.g. civic-app-1")],
    role: Annotated[Role, typer.Option(help="the role the key acts in")] = Role.COMMUNITY_STAFF,
    district: Annotated[str | None, typer.Option()] = "jinfeng",
    street: Annotated[str | None, typer.Option()] = None,
    community: Annotated[str | None, typer.Option()] = None,
    unit: Annotated[str | None, typer.Option(help="unit staff: their unit")] = None,
    data_dir: Annotated[Path, typer.Option(help="the embedded default's data folder")] = Path(
        "data"
    ),
    keys_file: Annotated[
        Path | None,
        typer.Option(envvar="SHILIU_TICKETS_AUTH__API_KEYS_FILE", help="default: DATA/keys/…"),
    ] = None,
) -> None:
    """Create an API key for a member unit's or civic app's system and print it, once: only
    its SHA-256 is kept, in the key file the tickets service reads."""
    path = keys_file or api_keys_file(data_dir)
    try:
        scope = Scope(district=district, street=street, community=community)
        key = create_api_key(path, key_id, role, scope, unit)
    except (ValidationError, ApiKeyExistsError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(f"API key {key_id!r} ({role.value}) added to {path}; it is shown only now:")
    typer.echo(key)


@app.command()
def jwks(
    data_dir: Annotated[Path, typer.Option(help="holds (or gets) the token key pair")] = Path(
        "data"
    ),
) -> None:
    """Print the public half of the embedded default's token key as a JWKS document (made
    once under DATA_DIR/keys, like `up` makes it), for services that verify its tokens."""
    pem = auth_keys(data_dir).public_key_file
    assert pem is not None
    public = load_pem_public_key(pem.read_bytes())
    if not isinstance(public, Ed25519PublicKey):
        console.print("[red]error:[/red] the token key is not an Ed25519 key")
        raise typer.Exit(2)
    key = json.loads(OKPAlgorithm.to_jwk(public))
    typer.echo(json.dumps({"keys": [{**key, "alg": "EdDSA", "use": "sig"}]}, indent=1))


@app.command()
def parked(
    data_dir: Annotated[Path, typer.Option(help="the embedded default's data folder")] = Path(
        "data"
    ),
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    tickets_url: Annotated[str, typer.Option()] = f"http://127.0.0.1:{DEFAULT_PORTS['tickets']}",
) -> None:
    """List what the ledger parked (malformed, unknown, unappliable messages) and what the
    tickets relay parked (notifications it could not translate or publish)."""
    from services.ledger.main import Ledger, LedgerSettings

    ledger = Ledger(
        LedgerSettings(store=StoreSettings(sqlite_path=data_dir / "ledger.sqlite"), consume=False)
    ).open()
    try:
        rows = ledger.parking.list(limit=limit)
    finally:
        ledger.close()
    table = Table(title=f"parked messages ({len(rows)})")
    for column in ("id", "consumer", "subject", "seq", "deliveries", "error", "payload"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row.id), row.consumer, row.subject, str(row.stream_sequence),
                      str(row.deliveries), row.error, row.payload[:120])  # fmt: skip
    console.print(table)
    relay = _get_json(f"{tickets_url}/ops/relay/parked?limit={limit}", _operator_headers(data_dir))
    if relay is None:
        console.print("tickets relay: not reachable")
        return
    outbox = Table(title=f"parked by the tickets relay ({len(relay)}; `shiliu relay-retry ID`)")
    for column in ("id", "position", "stage", "topic", "feed", "seq", "error"):
        outbox.add_column(column, overflow="fold")
    for entry in relay:
        outbox.add_row(*(str(entry[k]) for k in ("id", "position", "stage", "topic", "feed",
                                                  "sequence", "error")))  # fmt: skip
    console.print(outbox)


@app.command("relay-retry")
def relay_retry(
    parked_id: Annotated[int, typer.Argument(min=1, help="the id `shiliu parked` lists")],
    tickets_url: Annotated[str, typer.Option()] = f"http://127.0.0.1:{DEFAULT_PORTS['tickets']}",
    data_dir: Annotated[Path, typer.Option(help="signs the operator's token")] = Path("data"),
) -> None:
    """Put a notification the tickets relay parked through again, after a fix."""
    answer = _retry(f"{tickets_url}/ops/relay/parked/{parked_id}/retry", data_dir)
    _say_retried(bool(answer["published"]), "published")


@app.command("parked-retry")
def parked_retry(
    parked_id: Annotated[int, typer.Argument(min=1, help="the id `shiliu parked` lists")],
    ledger_url: Annotated[str, typer.Option()] = f"http://127.0.0.1:{DEFAULT_PORTS['ledger']}",
    data_dir: Annotated[Path, typer.Option(help="signs the operator's token")] = Path("data"),
) -> None:
    """Apply a message the ledger parked again, after a fix (it stays parked if it fails)."""
    answer = _retry(f"{ledger_url}/ops/parked/{parked_id}/retry", data_dir)
    _say_retried(bool(answer["applied"]), "applied", answer.get("reason"))


def _retry(url: str, data_dir: Path) -> dict[str, Any]:
    try:
        response = httpx.post(url, headers=_operator_headers(data_dir), timeout=10.0)
    except httpx.HTTPError as error:
        console.print(f"[red]error:[/red] not reachable: {url}: {error}")
        raise typer.Exit(2) from None
    if response.status_code != 200:
        console.print(f"[red]error:[/red] {response.status_code} {response.text}")
        raise typer.Exit(1)
    answer: dict[str, Any] = response.json()
    return answer


def _say_retried(done: bool, what: str, why: str | None = None) -> None:
    if done:
        console.print(what)
        return
    console.print(f"[yellow]failed again; still parked[/yellow]{f': {why}' if why else ''}")
    raise typer.Exit(1)


class RebuildFrom(StrEnum):
    SOURCES = "sources"
    STREAM = "stream"


@app.command("rebuild-ledger")
def rebuild_ledger(
    nats_url: NatsUrl = DEFAULT_NATS,
    source: Annotated[
        RebuildFrom, typer.Option("--from", help="the sources of record, or the stream's copy")
    ] = RebuildFrom.SOURCES,
    into: Annotated[Path | None, typer.Option(help="a new SQLite file to rebuild into")] = None,
    data_dir: Annotated[Path, typer.Option()] = Path("data"),
) -> None:
    """Rebuild the ledger into a fresh store and compare it with a snapshot of the live one.

    The live ledger's store comes from SHILIU_LEDGER_STORE__… when set (PostgreSQL: the
    rebuild goes into the schema `<schema>_rebuild`, emptied first), else `--data-dir`."""
    from services.ledger.main import Ledger, LedgerSettings
    from services.ledger.rebuild import rebuild_from_sources, rebuild_from_stream

    live_store, target = _rebuild_stores(data_dir, into)
    rebuilt = Ledger(LedgerSettings(store=target, consume=False)).open()
    live = Ledger(LedgerSettings(store=live_store, consume=False)).open()
    try:
        bus = _operator_bus(nats_url, data_dir)
        rebuild = rebuild_from_sources if source is RebuildFrom.SOURCES else rebuild_from_stream
        result = _on_the_bus(bus, rebuild(rebuilt.ledger, live.ledger, bus))
    finally:
        rebuilt.close()
        live.close()
    where = target.sqlite_path if target.kind is StoreKind.SQLITE else target.pg_schema
    console.print(f"replayed {result.applied} events from the {source.value} into {where} "
                  f"({result.skipped} malformed skipped)")  # fmt: skip
    for feed, count in result.missing.items():
        console.print(f"[yellow]{feed}: {count} events the live ledger has are missing[/yellow]")
    console.print(
        "rebuild equals the live ledger" if result.same else "[yellow]rebuild differs[/yellow]"
    )
    if not result.same:
        raise typer.Exit(1)


def _rebuild_stores(data_dir: Path, into: Path | None) -> tuple[StoreSettings, StoreSettings]:
    """The live ledger's store and a fresh one beside it for the rebuild."""
    from services.ledger.main import LedgerSettings
    from services.runtime.database import drop_pg_schema

    configured = os.environ.get("SHILIU_LEDGER_STORE__KIND")
    live = LedgerSettings(consume=False).store if configured else None
    if live is not None and live.kind is StoreKind.POSTGRES:
        target = live.model_copy(update={"pg_schema": f"{live.pg_schema}_rebuild"})
        drop_pg_schema(target)
        return live, target
    live = live or StoreSettings(sqlite_path=data_dir / "ledger.sqlite")
    if into is not None and into.exists():
        # a rebuild must start empty: into the live file (or one an earlier rebuild left) it
        # would start with the rows it is meant to check, and could only say "equals"
        console.print(f"[red]error:[/red] {into} already exists; name a new file to rebuild into")
        raise typer.Exit(2)
    path = into or Path(tempfile.mkdtemp()) / "ledger-rebuilt.sqlite"
    return live, StoreSettings(sqlite_path=path)
