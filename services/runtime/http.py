"""HTTP conventions every service shares: one error shape, with a stable machine code.

`{"error": {"code": "wish.not_found", "message": "...", ...details}}`; validation errors name
each field and the rule it broke.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from events.envelope import CODE_PATTERN
from services.runtime.health import Probe, always_ready, health_router
from services.runtime.identity import Authenticator, AuthSettings
from services.runtime.policy import ForbiddenError

if TYPE_CHECKING:
    from services.runtime.limits import LimitSettings

Details = Callable[[Exception], dict[str, Any]]
CodeInPath = Annotated[str, Path(pattern=CODE_PATTERN)]
"""A territory code (district, street, community, grid, building) as a path segment."""
CodeInQuery = Annotated[str, Query(pattern=CODE_PATTERN)]
"""A territory code as a query parameter."""
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **details}}


def _field_name(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


async def _on_invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"field": _field_name(tuple(e["loc"])), "rule": e["type"], "message": e["msg"]}
        for e in exc.errors()
    ]
    named = ", ".join(f"{f['field']} ({f['message']})" for f in fields)
    body = error_body("request.invalid", f"invalid request: {named}", fields=fields)
    return JSONResponse(body, status_code=422)


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.detail, dict) and "code" in exc.detail:
        body = {"error": exc.detail}
    else:
        body = error_body(f"http.{exc.status_code}", str(exc.detail))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(
    app: FastAPI, table: Mapping[type[Exception], tuple[int, Details]]
) -> None:
    """Map each domain error class to a status code and its details, in one table."""
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for error_class, (status, details) in table.items():

        async def handler(
            _: Request, exc: Exception, status: int = status, details: Details = details
        ) -> JSONResponse:
            code = str(getattr(exc, "code", "error"))
            return JSONResponse(error_body(code, str(exc), **details(exc)), status_code=status)

        app.add_exception_handler(error_class, handler)


def no_details(_: Exception) -> dict[str, Any]:
    return {}


def field_details(exc: Exception) -> dict[str, Any]:
    """A domain rule broken by one field of the body (the error's `field`), in the shape
    request validation uses."""
    field = str(getattr(exc, "field", "body"))
    return {"fields": [{"field": f"body.{field}", "rule": "domain", "message": str(exc)}]}


def service_app(
    name: str,
    *,
    auth: AuthSettings,
    lifespan: Lifespan | None = None,
    errors: Mapping[type[Exception], tuple[int, Details]] | None = None,
    limits: LimitSettings | None = None,
    readiness: Probe | None = None,
) -> FastAPI:
    """A service's FastAPI app with the shared conventions: error shape, health, AsyncAPI,
    and input limits (body size, content type, rate per actor; defaults unless given).

    Swagger UI and ReDoc load their assets from a CDN, which intranets do not have, so only
    the OpenAPI document itself is served (`/openapi.json`).
    """
    from services.runtime.asyncapi import asyncapi_router
    from services.runtime.limits import LimitSettings, install_limits

    app = FastAPI(
        title=f"Shiliu {name}", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.authenticator = Authenticator(auth)
    install_error_handlers(app, {ForbiddenError: (403, no_details), **(errors or {})})
    app.include_router(asyncapi_router())
    install_limits(app, limits or LimitSettings())

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        """Liveness, as `/health/live` (kept for clients of earlier versions)."""
        return {"status": "ok", "service": name}

    app.include_router(health_router(name, readiness or always_ready))
    return app
