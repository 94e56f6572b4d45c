"""Subject names: `shiliu.<district>.<community>.<service>.<aggregate>.<fact>`.

District and community lead, so a deployment can partition streams and consumers by them.
"""

from __future__ import annotations

from events.envelope import IntegrationEvent

ROOT = "shiliu"


def subject_for(event: IntegrationEvent) -> str:
    """The concrete subject one event is published on."""
    where = event.territory
    return f"{ROOT}.{where.district}.{where.community}.{event.service}.{event.subject_suffix}"


def subject_pattern(service: str, suffix: str = ">", district: str = "*") -> str:
    """A wildcard subject over every community (of one district, if named)."""
    return f"{ROOT}.{district}.*.{service}.{suffix}"


def subject_template(event_class: type[IntegrationEvent]) -> str:
    """The subject with named parameters, as the AsyncAPI document shows it."""
    return f"{ROOT}.{{district}}.{{community}}.{event_class.service}.{event_class.subject_suffix}"
