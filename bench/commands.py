"""Wish commands through `WishDesk` beside the raw commit rate of the same kind of store."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, StoredEvent

from bench.timing import Bracketed, Step, bracket, measure
from events.wishes import ClaimMode, WishCategory
from services.runtime.commands import Caller
from services.runtime.database import create_table, eventsourcing_env, prepare_store
from services.runtime.place import Place
from services.runtime.settings import StoreSettings
from services.tickets.main import open_tickets_store
from services.tickets.wishes.application import WishDesk
from shiliu.demo import communities, district_plan
from tests.support.units import enrol, roster_on

Note = Callable[[str], None]
STAFF = Caller(actor_id="staff-1", role="community_staff")
RAW_TOPIC = "bench.commands:Tick"
RAW_STATE = b'{"n":1}'


class RawCommits(Application[UUID]):
    """A bare application on the same kind of store; only its recorder is used."""

    name = "rawcommits"


def open_raw_commits(store: StoreSettings) -> RawCommits:
    prepare_store(store)
    raw = RawCommits(eventsourcing_env(store))
    create_table(raw.recorder)
    return raw


@dataclass(frozen=True)
class Phase:
    seconds: float
    """Per slice; a row takes `rounds` command slices and `rounds + 1` raw slices."""
    warmup: float
    rounds: int


@dataclass(frozen=True)
class CommandRow:
    """One store and client count: wish commands/s interleaved with raw commits/s."""

    store: str
    clients: int
    result: Bracketed


UNITS = 64
"""Units enrolled for the clients (at most this many clients)."""


def demo_board(store: StoreSettings) -> WishDesk:
    """The wish desk on `store` with the demo district's territory, where wishes are posted."""
    tickets = open_tickets_store(store)
    tickets.atlas.import_plan(district_plan())
    roster = roster_on(tickets, ())
    for number in range(UNITS):  # each client's unit, in its client's community
        community = communities()[number % 8]
        enrol(roster, [f"unit-{number}"], community=community.code, street=community.street)
    return WishDesk.on(tickets, roster)


def wish_commands(board: WishDesk, number: int) -> Iterator[None]:
    """One client's own wishes, forever: post, verify, claim (three commands, one event each)."""
    resident = Caller(actor_id=f"resident-{number}", role="resident")
    unit_id = f"unit-{number}"
    unit = Caller(actor_id=f"{unit_id}-staff", role="unit_staff")
    community = communities()[number % 8]
    place = Place(district="jinfeng", street=community.street, community=community.code, grid="g01")
    while True:
        outcome = board.post_wish(
            resident,
            place=place,
            resident_id=f"person-{number}",
            title="吃一顿热腾腾的饺子",
            category=WishCategory.MEAL,
            claim_mode=ClaimMode.EXCLUSIVE,
            quota=1,
        )
        yield
        board.verify_wish(STAFF, outcome.wish.id)
        yield
        board.claim_wish(unit, outcome.wish.id, unit_id)
        yield


def command_step(board: WishDesk) -> Callable[[int], Step]:
    def step_for(number: int) -> Step:
        return functools.partial(next, wish_commands(board, number))

    return step_for


def raw_step(recorder: ApplicationRecorder) -> Callable[[int], Step]:
    """One trivial stored event per transaction, straight into the recorder."""

    def step() -> None:
        recorder.insert_events([StoredEvent(uuid4(), 1, RAW_TOPIC, RAW_STATE)])

    return lambda _: step


def command_rows(
    label: str, store: StoreSettings, raw_store: StoreSettings, clients: tuple[int, ...],
    phase: Phase, note: Note,
) -> list[CommandRow]:  # fmt: skip
    board = demo_board(store)
    raw = open_raw_commits(raw_store)
    try:
        return [_row(label, board, raw.recorder, n, phase, note) for n in clients]
    finally:
        board.commands.app.close()
        raw.close()


def _row(
    label: str, board: WishDesk, recorder: ApplicationRecorder, clients: int, phase: Phase,
    note: Note,
) -> CommandRow:  # fmt: skip
    note(f"{label} ×{clients}: wish commands interleaved with raw commits")
    commands, raw = command_step(board), raw_step(recorder)
    measure(clients, raw, phase.warmup)
    measure(clients, commands, phase.warmup)
    result = bracket(
        phase.rounds,
        raw=lambda: measure(clients, raw, phase.seconds),
        path=lambda: measure(clients, commands, phase.seconds),
    )
    return CommandRow(label, clients, result)
