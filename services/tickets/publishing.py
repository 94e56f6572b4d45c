"""The tickets service as a source on the bus: its name, and its log's translation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from events.envelope import IntegrationEvent
from services.runtime import publishing
from services.runtime.publishing import EventIds, Publication

SOURCE = "tickets"


def translator(
    mapper: Mapper[UUID], ids: EventIds, publications: Sequence[Publication]
) -> Callable[[Notification], IntegrationEvent | None]:
    """Translate the tickets log; what no publication publishes (receipts, rules) is skipped."""
    return publishing.translator(mapper, ids, publications, source=SOURCE)
