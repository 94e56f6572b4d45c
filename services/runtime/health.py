"""Liveness and readiness: `/health/live` answers while the process serves HTTP;
`/health/ready` answers 200 only while the service can do its work (503 otherwise), with the
counts an operator needs to see why (lag, parked messages, gaps, loops)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, bool]
    """Each condition of readiness, e.g. `store`, `bus`, `loops`."""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(self.checks.values())


Probe = Callable[[], Awaitable[Readiness]]


async def always_ready() -> Readiness:
    return Readiness(checks={"process": True})


def health_router(service: str, probe: Probe = always_ready) -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "live", "service": service}

    @router.get("/health/ready", responses={503: {"description": "not ready"}})
    async def ready() -> JSONResponse:
        try:
            readiness = await probe()
        except Exception as error:  # the probe failing is the answer: not ready
            log.exception("%s readiness probe failed", service)
            readiness = Readiness(checks={"store": False}, details={"error": repr(error)[:300]})
        body = {"status": "ready" if readiness.ready else "not_ready", "service": service,
                "checks": readiness.checks, **readiness.details}  # fmt: skip
        return JSONResponse(body, status_code=200 if readiness.ready else 503)

    return router
