"""Input hardening every service shares: body size, strict content types, rate limits per actor.

Pure ASGI middleware, installed by `service_app`; each refusal uses the shared error shape.
Rate limits are kept in this process's memory, so each instance enforces its own: a deployment
with several instances of a service puts the limit in front of them, in the reverse proxy.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import parse_qsl

import jwt
from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.http import error_body
from services.runtime.identity import Principal, principal_of
from services.runtime.text import refusal

READS = frozenset({"GET", "HEAD", "OPTIONS"})


class LimitSettings(BaseModel):
    """How much one request may carry and how often one actor may call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(default=64 * 1024, ge=0)
    form_paths: tuple[str, ...] = (
        "/board", "/signin", "/signout", "/open311", "/wall", "/unit", "/coordinate",
    )  # fmt: skip
    """Prefixes of the routes posting `application/x-www-form-urlencoded`: the HTML forms, and
    Open311 GeoReport v2 (whose specification says so)."""
    own_url_checks: tuple[str, ...] = ("/open311",)
    """Prefixes of the routes that refuse control characters in their URL themselves, in
    their own error format (Open311 GeoReport v2); every other URL is checked by
    `PlainUrlText`."""
    command_rate: float = Field(default=20.0, gt=0)
    """Commands (every method but GET, HEAD, OPTIONS) per second and actor, refilled steadily."""
    command_burst: int = Field(default=100, ge=1)
    read_rate: float = Field(default=100.0, gt=0)
    read_burst: int = Field(default=500, ge=1)
    unlimited_paths: tuple[str, ...] = ("/health",)
    """Probed by load balancers and orchestrators, never rate limited."""
    max_actors: int = Field(default=10_000, ge=1)
    """Buckets kept per kind; the least recently seen actor's is dropped (it has refilled)."""


def install_limits(app: FastAPI, settings: LimitSettings) -> None:
    """Outermost first: rate limit, content type, URL text, body size; then the app's own
    routes."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(PlainUrlText, own_checks=settings.own_url_checks)
    app.add_middleware(StrictContentType, form_paths=settings.form_paths)
    app.add_middleware(RateLimit, settings=settings)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str,
    headers: dict[str, str] | None = None,
) -> None:  # fmt: skip
    response = JSONResponse(error_body(code, message), status_code=status, headers=headers)
    await response(scope, receive, send)


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class _TooLargeError(Exception):
    pass


class _ClientGoneError(Exception):
    pass


class BodySizeLimit:
    """Refuses a body over `max_bytes` with 413 before any route runs.

    A declared Content-Length is checked up front; otherwise the body is read (never more than
    `max_bytes` plus one chunk) before the app sees it, so even a route that ignores its body
    cannot act on an oversized request.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(headers := Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        try:
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise _TooLargeError
            body = await self._read(receive)
        except _TooLargeError:
            message = f"the request body is larger than {self.max_bytes} bytes"
            await _refuse(scope, receive, send, 413, "request.too_large", message)
            return
        except _ClientGoneError:
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGoneError
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLargeError
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever the server says next (a disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if not pending:
            return await receive()
        pending = False
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


class StrictContentType:
    """A body sent to a JSON endpoint must be declared `application/json` (a charset may follow).

    The HTML form routes under `form_paths` are left to read their url-encoded forms.
    """

    def __init__(self, app: ASGIApp, *, form_paths: tuple[str, ...]) -> None:
        self.app = app
        self.form_paths = form_paths

    def _is_form_route(self, path: str) -> bool:
        return any(path == prefix or path.startswith(f"{prefix}/") for prefix in self.form_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            content_type = headers.get("content-type", "")
            if (
                _has_body(headers)
                and not _is_json(content_type)
                and not self._is_form_route(_route_path(scope))
            ):
                message = f"send the body as application/json, not {content_type or 'untyped'}"
                await _refuse(scope, receive, send, 415, "request.unsupported_media_type", message)
                return
        await self.app(scope, receive, send)


class PlainUrlText:
    """The path and every query parameter (name and value) hold to the rule a one-line body
    field follows (`services.runtime.text`): no control characters. Routes pass URL text to
    queries, and PostgreSQL text cannot hold NUL at all (a 500 otherwise)."""

    def __init__(self, app: ASGIApp, *, own_checks: tuple[str, ...]) -> None:
        self.app = app
        self.own_checks = own_checks

    def _checks_itself(self, path: str) -> bool:
        return any(path == prefix or path.startswith(f"{prefix}/") for prefix in self.own_checks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not self._checks_itself(_route_path(scope))
            and (problem := _url_problem(scope)) is not None
        ):
            field, why = problem
            fields = [{"field": field, "rule": "control_character", "message": why}]
            body = error_body("request.invalid", f"invalid request: {field} ({why})", fields=fields)
            await JSONResponse(body, status_code=422)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _url_problem(scope: Scope) -> tuple[str, str] | None:
    """The first field of the URL holding a control character, and why; None if all is fine."""
    if (why := refusal(str(scope["path"]))) is not None:
        return "path", why
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        if (why := refusal(name) or refusal(value)) is not None:
            return f"query.{name}", why
    return None


class RateBuckets:
    """A token bucket per key: `burst` requests at once, then `rate` per second."""

    def __init__(
        self, rate: float, burst: int, *, max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.rate, self.burst, self.max_keys, self.clock = rate, burst, max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one token: 0 when granted, else the seconds until the next one."""
        now = self.clock()
        tokens, updated = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.rate)
        granted = tokens >= 1
        self._buckets[key] = (tokens - 1 if granted else tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return 0.0 if granted else (1 - tokens) / self.rate


class RateLimit:
    """Commands and reads are limited apart, per actor; 429 with Retry-After when spent.

    The actor is the verified principal (bearer token, API key or sign-in cookie, via
    `principal_of`, which keeps it for the route). A request without
    valid credentials counts against its client address: behind a proxy, run the server with
    forwarded headers trusted, or every anonymous caller shares the proxy's bucket.
    """

    def __init__(self, app: ASGIApp, *, settings: LimitSettings) -> None:
        self.app = app
        self.unlimited = settings.unlimited_paths
        keys = settings.max_actors
        self.commands = RateBuckets(settings.command_rate, settings.command_burst, max_keys=keys)
        self.reads = RateBuckets(settings.read_rate, settings.read_burst, max_keys=keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route_path(scope) in self.unlimited:
            await self.app(scope, receive, send)
            return
        buckets = self.reads if scope["method"] in READS else self.commands
        wait = buckets.take(await actor_key(Request(scope)))
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            message = f"too many requests; retry in {seconds} s"
            headers = {"Retry-After": str(seconds)}
            await _refuse(scope, receive, send, 429, "request.rate_limited", message, headers)
            return
        await self.app(scope, receive, send)


async def actor_key(request: Request) -> str:
    """Whom a request counts against; an unverified token never names the actor."""
    try:
        principal = await _verified_principal(request)
    except (HTTPException, jwt.PyJWTError):
        return f"address:{request.client.host if request.client else 'unknown'}"
    return f"{principal.method}:{principal.id}"


async def _verified_principal(request: Request) -> Principal:
    if request.app.state.authenticator.settings.jwks_url:
        # fetching an identity provider's keys blocks; keep it off the event loop
        return await run_in_threadpool(principal_of, request)
    return principal_of(request)
