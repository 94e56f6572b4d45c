"""The bus permissions as declared: each subject space has one publisher, each consumer one
reader, and every reply goes to an inbox only its owner may subscribe to."""

from __future__ import annotations

import pytest

from events.access import BUS_USERS, OPERATOR_USER, bus_user
from events.topology import CONSUMERS, STREAMS, replay_subject


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, a final `>` one or more."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or token not in ("*", tokens[index]):
            return False
    return len(tokens) == len(wanted)


def publishers(subject: str) -> list[str]:
    return [u.name for u in BUS_USERS if any(matches(p, subject) for p in u.publish_allow)]


@pytest.mark.parametrize("service", ["tickets", "ledger", "matching", "notify"])
def test_only_a_service_itself_may_publish_on_its_subjects(service: str) -> None:
    subject = f"shiliu.jinfeng.c07.{service}.wish.posted"
    assert publishers(subject) == ([] if service == "ledger" else [service])


def test_every_declared_consumer_is_read_by_exactly_one_user() -> None:
    readers = [spec for user in BUS_USERS for spec in user.consumes]
    assert sorted(r.durable for r in readers) == sorted(c.durable for c in CONSUMERS)
    for consumer in CONSUMERS:
        fetch = f"$JS.API.CONSUMER.MSG.NEXT.{consumer.stream}.{consumer.durable}"
        ack = f"$JS.ACK.{consumer.stream}.{consumer.durable}.1.2.3.4.5.0"
        assert len(publishers(ack)) == 1
        assert len(set(publishers(fetch)) - {OPERATOR_USER.name}) == 1


def test_the_ledger_cannot_create_consumers_or_read_other_streams() -> None:
    ledger = bus_user("ledger")
    for stream in STREAMS:
        for api in (f"CONSUMER.CREATE.{stream.name}", f"STREAM.INFO.{stream.name}"):
            assert not any(matches(p, f"$JS.API.{api}") for p in ledger.publish_allow)
    other = "$JS.API.CONSUMER.MSG.NEXT.SHILIU_MATCHING.matching-proposals"
    assert not any(matches(pattern, other) for pattern in ledger.publish_allow)


SOURCES = ("tickets", "matching")
"""The services whose feeds others consume: each answers replays of its own feeds."""


def test_the_operator_manages_every_stream_but_publishes_no_event() -> None:
    for stream in STREAMS:
        for api in ("STREAM.CREATE", "STREAM.UPDATE", "STREAM.INFO"):
            assert OPERATOR_USER.name in publishers(f"$JS.API.{api}.{stream.name}")
        assert not publishers(f"$JS.API.STREAM.DELETE.{stream.name}")
    events = [p for p in OPERATOR_USER.publish_allow if p.startswith("shiliu.")]
    # asking the sources for replays, for rebuilds; no event
    assert events == [replay_subject("matching"), replay_subject("tickets")]


def test_each_user_subscribes_only_to_its_own_inbox_and_a_source_to_its_replays() -> None:
    inboxes = [user.inbox for user in BUS_USERS]
    assert len(set(inboxes)) == len(inboxes)
    for user in BUS_USERS:
        source = user.name in SOURCES
        served = (replay_subject(user.name),) if source else ()
        assert user.subscribe_allow == (f"{user.inbox}.>", *served)
        assert user.allow_responses == source
        others = [other for other in BUS_USERS if other is not user]
        for other in others:
            assert not matches(user.subscribe_allow[0], f"{other.inbox}.reply")


def test_an_unknown_user_is_named_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match="tickets"):
        bus_user("ticket")
