"""Stored topics are stored data: history written under an old module path still replays
(services/tickets/publishing.py `Publication.stored_as`, `translator`, `register_stored_topics`)."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.utils import TopicError

from events.wishes import ClaimMode, WishCategory, WishPosted, WishVerified
from services.runtime.commands import Caller
from services.runtime.database import eventsourcing_env
from services.runtime.place import Place
from services.runtime.publishing import EventIds, Publication
from services.runtime.settings import StoreSettings
from services.tickets.main import tickets_store
from services.tickets.mediation.publishing import DISPUTES
from services.tickets.publishing import translator
from services.tickets.ticketing.publishing import TICKETS, VISITS
from services.tickets.wishes.application import WishDesk
from services.tickets.wishes.domain import WishState
from services.tickets.wishes.publishing import WISHES
from tests.conftest import demo_store
from tests.support.units import roster_on

CURRENT = "services.tickets.wishes.domain:Wish"
OLD = "services.tickets.wishboard.aggregates:Wish"
"""Where the wish aggregate lived when the store below was written (a renamed module)."""


@pytest.mark.parametrize("family", [WISHES, TICKETS, VISITS, DISPUTES], ids=lambda f: f.id_field)
def test_every_published_aggregate_lives_where_its_family_says_it_is_stored(
    family: Publication,
) -> None:
    """Moving an aggregate class fails here until its new topic is added (the old one kept)."""
    aggregate = family.aggregate
    assert f"{aggregate.__module__}:{aggregate.__qualname__}" in family.stored_as


def _store_written_under_the_old_topic(path: Path) -> UUID:
    store = demo_store(eventsourcing_env(StoreSettings(sqlite_path=path)))
    board = WishDesk.on(store, roster_on(store))
    staff = Caller(actor_id="staff-1", role="community_staff")
    posted = board.post_wish(
        staff, place=Place("jinfeng", "s01", "c01", "g01"), resident_id="person-1",
        title="为晚归的人点亮夜路", category=WishCategory.OTHER,
        claim_mode=ClaimMode.EXCLUSIVE, quota=1,
    )  # fmt: skip
    board.verify_wish(staff, posted.wish.id)
    store.close()
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        rows = db.execute("SELECT rowid, topic, state FROM stored_events").fetchall()
        for rowid, topic, state in rows:
            db.execute(
                "UPDATE stored_events SET topic = ?, state = ? WHERE rowid = ?",
                (topic.replace(CURRENT, OLD), bytes(state).replace(CURRENT.encode(), OLD.encode()),
                 rowid),
            )  # fmt: skip
        moved = db.execute("SELECT COUNT(*) FROM stored_events WHERE topic LIKE ?", (OLD + ".%",))
        assert moved.fetchone()[0] == 2
    return posted.wish.id


def test_a_store_written_under_an_old_module_path_is_translated_and_its_wishes_load(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tickets.sqlite"
    wish_id = _store_written_under_the_old_topic(path)
    store = tickets_store(eventsourcing_env(StoreSettings(sqlite_path=path)))
    board = WishDesk.on(store, roster_on(store))
    notifications = [  # the wish's two events, not the territory imported before it
        n for n in store.recorder.select_notifications(1, 100) if n.originator_id == wish_id
    ]

    # Without the old topic in the table its history is invisible and cannot load.
    unaware = translator(store.mapper, EventIds(bytes(32)), (WISHES,))
    assert [unaware(n) for n in notifications] == [None, None]
    with pytest.raises(TopicError):
        board.get_wish(wish_id)

    # After the move the family lists the new topic and keeps the old one.
    moved = dataclasses.replace(WISHES, stored_as=(CURRENT, OLD))
    translate = translator(store.mapper, EventIds(bytes(32)), (moved,))
    events = [translate(n) for n in notifications]
    assert [type(e) for e in events] == [WishPosted, WishVerified]
    assert all(getattr(e, "wish_id", None) == wish_id for e in events)
    assert [e.position for e in events if e is not None] == [n.id for n in notifications]
    wish = board.get_wish(wish_id)
    assert (wish.state, wish.title, wish.version) == (WishState.OPEN, "为晚归的人点亮夜路", 2)
    store.close()
