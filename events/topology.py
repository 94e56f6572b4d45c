"""The bus's streams and durable consumers, declared once; one owner provisions them.

Services bind to what is declared here and never create or change streams themselves
(a second declaration with other settings would silently overwrite the first).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from events.subjects import ROOT, subject_pattern


class StreamSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    subjects: tuple[str, ...]
    duplicate_window_seconds: float = 600.0
    """Longer than the default two minutes, so a relay restarted late still deduplicates."""
    max_age_days: float = 0.0
    """0 keeps messages forever: the stream doubles as a replay cache."""


def replay_subject(source: str) -> str:
    """Where a source answers requests for its feeds' events (request/reply, never a stream).

    Three tokens, so it can never match an event subject (six tokens) or a stream's pattern.
    """
    return f"{ROOT}.replay.{source}"


class ConsumerSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    stream: str
    durable: str
    filter_subject: str
    feeds: tuple[str, ...]
    """The feeds (`<source>.<family>`) behind the filter, each numbered gap-free by its source;
    the consumer checks each for gaps and asks the source for what it missed."""
    ack_wait_seconds: float = 30.0
    max_deliver: int = 20
    backoff_seconds: tuple[float, ...] = (30.0, 30.0, 60.0, 120.0, 300.0)
    """Ack waits per delivery; the server takes the first as `ack_wait`, so they agree.
    A failing batch is nacked with a short delay instead, so retries stay quick."""
    max_ack_pending: int = 1000


TICKETS_STREAM = StreamSpec(name="SHILIU_TICKETS", subjects=(subject_pattern("tickets"),))
MATCHING_STREAM = StreamSpec(name="SHILIU_MATCHING", subjects=(subject_pattern("matching"),))

LEDGER_WISHES = ConsumerSpec(
    stream=TICKETS_STREAM.name,
    durable="ledger-wishes",
    filter_subject=subject_pattern("tickets", "wish.>"),
    feeds=("tickets.wish",),
)

LEDGER_TICKETS = ConsumerSpec(
    stream=TICKETS_STREAM.name,
    durable="ledger-tickets",
    filter_subject=subject_pattern("tickets", "ticket.>"),
    feeds=("tickets.ticket",),
)
LEDGER_DISPUTES = ConsumerSpec(
    stream=TICKETS_STREAM.name,
    durable="ledger-disputes",
    filter_subject=subject_pattern("tickets", "dispute.>"),
    feeds=("tickets.dispute",),
)

LEDGER_VISITS = ConsumerSpec(
    stream=TICKETS_STREAM.name,
    durable="ledger-visits",
    filter_subject=subject_pattern("tickets", "visit.>"),
    feeds=("tickets.visit",),
)

TICKETS_UNITS = ConsumerSpec(
    stream=MATCHING_STREAM.name,
    durable="tickets-units",
    filter_subject=subject_pattern("matching", "unit.>"),
    feeds=("matching.unit",),
)
"""The tickets service's view of the unit registry: who may claim a community's wishes."""

MATCHING_WISHES = ConsumerSpec(
    stream=TICKETS_STREAM.name,
    durable="matching-wishes",
    filter_subject=subject_pattern("tickets", "wish.>"),
    feeds=("tickets.wish",),
)
"""Matching's view of the wishes: open ones get proposals, claims close the others."""
MATCHING_TICKETS = ConsumerSpec(
    stream=TICKETS_STREAM.name,
    durable="matching-tickets",
    filter_subject=subject_pattern("tickets", "ticket.>"),
    feeds=("tickets.ticket",),
)
"""Matching's view of the tickets: one triaged into a category a unit can serve gets proposals."""

STREAMS: tuple[StreamSpec, ...] = (TICKETS_STREAM, MATCHING_STREAM)
CONSUMERS: tuple[ConsumerSpec, ...] = (
    LEDGER_WISHES,
    LEDGER_TICKETS,
    LEDGER_DISPUTES,
    LEDGER_VISITS,
    TICKETS_UNITS,
    MATCHING_WISHES,
    MATCHING_TICKETS,
)
