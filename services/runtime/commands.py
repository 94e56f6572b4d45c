"""Load → decide → save, done once for every writing service's store (the command loop).

Each command may carry an `Idempotency-Key`: its first outcome is saved as a receipt in the
same transaction as the events, so a retry returns that outcome and stores nothing new. The
personal data a command seals is written in that transaction too, so it is stored exactly when
the command is: a retry after the person was erased finds the receipt and seals nothing again.
A concurrent write (another thread or process) makes the save fail; the command then decides
again on the fresh state, after a short random pause that doubles with each conflict ("full
jitter"): racers in several processes spread out instead of colliding again at once.

An answer's `position` (how far a view must have read to show the command) is known only once
the events are stored. A keyed command's receipt is saved last, so its notification is the
transaction's last: the first answer and every retry give that notification's id, read back
from the store, and are the same byte for byte.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from services.runtime.database import ALONG, EVENT_RECORDERS, Along, Database
from services.runtime.idempotency import (
    IdempotencyKeyReusedError,
    Receipt,
    fingerprint,
    receipt_id,
    receipt_position,
)
from services.runtime.personal import PersonalDataVault, Sealed

MAX_ATTEMPTS = 64
"""Conflicts one command survives; with the pauses below that is seconds of contention."""
FIRST_PAUSE_SECONDS = 0.001
LONGEST_PAUSE_SECONDS = 0.05
A = TypeVar("A", bound=Aggregate)
Answer = TypeVar("Answer", bound=BaseModel)


class Where(Protocol):
    """A place in the territory tree, as each service's own place type spells it."""

    @property
    def district(self) -> str: ...
    @property
    def street(self) -> str: ...
    @property
    def community(self) -> str: ...
    @property
    def grid(self) -> str | None: ...


class Guard(Protocol):
    def __call__(self, place: Where, person_id: str, /) -> str | None:
        """Raise if the caller may not act at `place` or for this person; return whom they
        act for, if not themselves."""


@dataclass(frozen=True)
class Caller:
    """Who sends a command; the HTTP layer builds it from the authenticated request."""

    actor_id: str
    role: str
    on_behalf_of: str | None = None
    correlation_id: UUID | None = None
    idempotency_key: str | None = None
    guard: Guard | None = None
    authority: str | None = None
    """Whose receipts a keyed command's first answer is kept under (the principal with its
    role and scope, `Principal.authority`); the actor id when not given."""
    unit_guard: Callable[[str | None], None] | None = None
    """Raises if the caller may not act for this unit (unit staff for another unit's item)."""

    @property
    def receipts(self) -> str:
        return self.authority or self.actor_id


def personal_digest(vault: PersonalDataVault | None, personal: dict[str, Any] | None) -> str | None:
    """What an idempotency receipt keeps of personal data: a keyed digest, never the data
    (receipts live in the event store, which erasure never rewrites)."""
    if not personal:
        return None
    if vault is None:
        msg = "personal data needs the vault (configure the master key)"
        raise ValueError(msg)
    return vault.digest(personal)


def jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, UUID) else v) for k, v in payload.items()}


class Commands:
    """The command loop over one eventsourcing application (a service's store)."""

    def __init__(self, app: Application[UUID], vault: PersonalDataVault | None = None) -> None:
        self.app = app
        self.vault = vault
        self.listeners: list[Callable[[], None]] = []
        self._database = Database(getattr(app.recorder, "datastore"))  # noqa: B009
        self._events_table = str(getattr(app.recorder, "events_table_name"))  # noqa: B009
        self._locks = [threading.Lock() for _ in range(64)]

    def load(self, aggregate_id: UUID, kind: type[A], missing: Callable[[UUID], Exception]) -> A:
        try:
            found: object = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing(aggregate_id) from None
        if not isinstance(found, kind):
            raise missing(aggregate_id)
        return found

    def run(
        self,
        caller: Caller,
        command: str,
        payload: dict[str, Any],
        decide: Callable[[], tuple[list[Aggregate], Answer]],
        answer: type[Answer],
        *,
        lock: UUID | None = None,
        seal: Callable[[Answer], Sequence[Sealed]] | None = None,
        also: Callable[[Answer], Sequence[Along]] | None = None,
    ) -> Answer:
        """Decide (returning what to save and the answer), save with a receipt, the personal
        data `seal` names for the answer and the writes of the service's own tables `also`
        names, retry on a concurrent write; a keyed retry returns the first answer and seals
        nothing."""
        payload = jsonable(payload)

        def attempt() -> Answer:
            if (first := self._first(caller, command, payload, answer)) is not None:
                return first
            pending, outcome = decide()
            sealed = seal(outcome) if seal is not None else ()
            writes = also(outcome) if also is not None else ()
            return self._save(caller, command, payload, pending, outcome, sealed, writes)

        if lock is None:
            return self._retrying(attempt)
        with self._locks[hash(lock) % len(self._locks)]:
            return self._retrying(attempt)

    @staticmethod
    def _retrying(attempt: Callable[[], Answer]) -> Answer:
        for conflicts in range(MAX_ATTEMPTS - 1):
            try:
                return attempt()
            except IntegrityError:
                ceiling = min(LONGEST_PAUSE_SECONDS, FIRST_PAUSE_SECONDS * 2**conflicts)
                time.sleep(random.uniform(0, ceiling))  # spreading racers, not secrecy
        return attempt()

    def _along(self, sealed: Sequence[Sealed], writes: Sequence[Along] = ()) -> dict[str, Any]:
        if not sealed and not writes:
            return {}
        if not isinstance(self.app.recorder, EVENT_RECORDERS):
            msg = "writes along with events need a store from eventsourcing_env"
            raise ValueError(msg)
        if sealed and self.vault is None:
            msg = "personal data needs the vault (configure the master key)"
            raise ValueError(msg)
        vault = [self.vault.sealing(sealed)] if sealed and self.vault is not None else []
        return {ALONG: [*vault, *writes]}

    def _first(
        self, caller: Caller, command: str, payload: dict[str, Any], answer: type[Answer]
    ) -> Answer | None:
        if caller.idempotency_key is None:
            return None
        try:
            receipt: object = self.app.repository.get(
                receipt_id(caller.receipts, caller.idempotency_key)
            )
        except AggregateNotFoundError:
            return None
        assert isinstance(receipt, Receipt)
        if receipt.fingerprint != fingerprint(command, payload):
            raise IdempotencyKeyReusedError(caller.idempotency_key)
        first = answer.model_validate(receipt.outcome)
        return _positioned(
            first, lambda: receipt_position(self._database, self._events_table, receipt.id)
        )

    def _save(
        self,
        caller: Caller,
        command: str,
        payload: dict[str, Any],
        pending: list[Aggregate],
        outcome: Answer,
        sealed: Sequence[Sealed],
        writes: Sequence[Along] = (),
    ) -> Answer:
        saving: list[Aggregate] = list(pending)
        receipt = None
        if caller.idempotency_key is not None:
            receipt = Receipt(
                scope=caller.receipts,
                key=caller.idempotency_key,
                fingerprint=fingerprint(command, payload),
                outcome=outcome.model_dump(mode="json"),
            )
            saving.append(receipt)  # last, so its notification is the transaction's last
        recordings = self.app.save(*saving, **self._along(sealed, writes))
        for listener in self.listeners:
            listener()
        positions = {r.domain_event.originator_id: r.notification.id for r in recordings}

        def position() -> int:
            if receipt is not None:
                return positions[receipt.id]
            return max(positions.values(), default=0)

        return _positioned(outcome, position)


def _positioned(outcome: Answer, position: Callable[[], int]) -> Answer:
    """The answer with its `position`, for the answers that have one."""
    if "position" in type(outcome).model_fields:
        return outcome.model_copy(update={"position": position()})
    return outcome
