"""Command routes written once: authorise the action, check the body against the caller, run
the command in a worker thread, answer its outcome.

A writing service's routes are mostly `POST /<resource>/{id}/<step>` with a small body; each
is one `Step` in a table, and `add_steps` makes the FastAPI endpoint for it, with the same
signature a hand-written one would have (so the OpenAPI document, validation and the order of
checks are those of FastAPI itself). Routes that do more than that stay written out.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, cast
from uuid import UUID

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.runtime.access import caller_of
from services.runtime.commands import Caller
from services.runtime.identity import Access, authorize

B = TypeVar("B", bound=BaseModel)
A = TypeVar("A", bound=BaseModel)
K = TypeVar("K")
"""What the path names the aggregate by: a UUID, or a code (a unit's)."""


class NoBody(BaseModel):
    """What a step without a request body receives."""


@dataclass(frozen=True)
class Step(Generic[B, A, K]):
    """`POST {path}` runs `run(caller, id, body)` once `action` is allowed and `check` passed."""

    name: str
    """The endpoint's name: it names the OpenAPI operation."""
    path: str
    action: str
    answer: type[A]
    run: Callable[[Caller, K, B], A]
    body: type[B] | None = None
    check: Callable[[Access, B], None] | None = None
    """Runs before the command: raise ForbiddenError for a body the caller may not send."""
    status_code: int = 200
    doc: str | None = None


def add_steps(
    router: APIRouter, id_name: str, steps: Sequence[Step[Any, Any, Any]], id_type: Any = UUID
) -> None:
    """Add each step to `router`; `id_name` is the path parameter naming the aggregate, of
    `id_type` (a UUID, or an `Annotated` code with its pattern)."""
    for step in steps:
        router.add_api_route(
            step.path, _endpoint(id_name, step, id_type), methods=["POST"], name=step.name,
            response_model=step.answer, status_code=step.status_code,
        )  # fmt: skip


def _endpoint(id_name: str, step: Step[B, A, K], id_type: Any) -> Callable[..., Any]:
    async def endpoint(**kwargs: Any) -> A:
        access: Access = kwargs["access"]
        body: B = kwargs["body"] if step.body is not None else cast("B", NoBody())
        if step.check is not None:
            step.check(access, body)
        aggregate_id: K = kwargs[id_name]
        return await run_in_threadpool(step.run, caller_of(access), aggregate_id, body)

    parameters = [inspect.Parameter(id_name, inspect.Parameter.KEYWORD_ONLY, annotation=id_type)]
    if step.body is not None:
        parameters.append(
            inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=step.body)
        )
    parameters.append(inspect.Parameter(
        "access", inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[Access, authorize(step.action)],
    ))  # fmt: skip
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        parameters, return_annotation=step.answer
    )
    endpoint.__name__ = endpoint.__qualname__ = step.name
    endpoint.__doc__ = step.doc
    return endpoint
