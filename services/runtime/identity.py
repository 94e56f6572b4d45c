"""Who is calling: signed bearer tokens (JWT) or API keys, checked by every service.

Tokens are verified against a public key or a JWKS (so an existing identity provider can
issue them); the embedded default signs its own with an Ed25519 key kept in the data folder.
API keys (for member units' systems and Open311 clients) are stored only as SHA-256 hashes,
in a JSON file of `ApiKeyRecord`s that `shiliu api-key` appends to; a service re-reads the
file when it changes, so a new key works without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import jwt
from fastapi import Depends, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.envelope import Code, Role
from services.runtime.policy import OUTSIDE_TERRITORY, POLICY, ForbiddenError, Ownership, Rule

COOKIE = "shiliu_token"
ALGORITHMS = ["EdDSA", "RS256", "ES256"]


class Scope(BaseModel):
    """The territory a principal acts in; an unset level means "all of it"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    district: Code | None = None
    street: Code | None = None
    community: Code | None = None
    grid: Code | None = None

    def contains(self, *, district: str, street: str, community: str, grid: str | None) -> bool:
        target = {"district": district, "street": street, "community": community, "grid": grid}
        return all(
            mine is None or mine == target[level] for level, mine in self.model_dump().items()
        )


class Claims(BaseModel):
    """What a Shiliu token says about its bearer."""

    model_config = ConfigDict(extra="ignore")

    sub: Annotated[str, Field(min_length=1, max_length=64)]
    role: Role
    scope: Scope = Scope()
    person: str | None = None
    """The resident's person id, for residents."""
    unit: str | None = None
    """The member unit, for unit staff."""


@dataclass(frozen=True)
class Principal:
    """The authenticated actor of one request."""

    id: str
    role: Role
    scope: Scope
    person: str | None = None
    unit: str | None = None
    method: str = "token"

    @property
    def authority(self) -> str:
        """Who this is and what they may do: the id with a digest of the method, role, scope,
        person and unit. Idempotency receipts are kept per authority, so a retry is answered
        only to a caller the first answer's checks covered (an API key named like a token's
        subject, or a token of another scope, does not get its answer)."""
        held = [self.method, self.role.value, sorted(self.scope.model_dump(exclude_none=True)
                .items()), self.person, self.unit]  # fmt: skip
        digest = hashlib.sha256(json.dumps(held).encode()).hexdigest()[:32]
        return f"{self.id}#{digest}"


class AuthSettings(BaseModel):
    """How a service verifies callers. Set one of the key sources; API keys are optional."""

    issuer: str = "shiliu"
    audience: str = "shiliu"
    public_key_file: Path | None = None
    """PEM public key (Ed25519, RSA or EC) of the token issuer."""
    jwks_file: Path | None = None
    """A JWKS document, e.g. exported from the district's identity provider."""
    jwks_url: str | None = None
    """The identity provider's JWKS endpoint (the only outbound call, when configured)."""
    api_keys_file: Path | None = None
    """JSON list of {"id", "sha256", "role", "scope", "unit"} records."""
    signing_key_file: Path | None = None
    """Private key for the embedded default's sign-in page and `shiliu token`; else unset."""


class ApiKeyRecord(BaseModel):
    """One entry of the API key file: who the key stands for, and the key's SHA-256 only
    (other fields, such as a note, are kept by hand and ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    role: Role
    scope: Scope = Scope()
    unit: str | None = None


class ApiKeyExistsError(Exception):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"an API key with id {key_id!r} already exists")


def read_api_keys(path: Path) -> list[ApiKeyRecord]:
    """The key file's records; a file not yet written holds none."""
    if not path.exists():
        return []
    return [ApiKeyRecord.model_validate(r) for r in json.loads(path.read_bytes() or b"[]")]


def create_api_key(path: Path, key_id: str, role: Role, scope: Scope, unit: str | None) -> str:
    """Add a new key to the file (written whole, readable by its owner only) and return the
    key itself: it is stored nowhere, so this is the only time it is seen."""
    records = read_api_keys(path)
    if any(r.id == key_id for r in records):
        raise ApiKeyExistsError(key_id)
    key = "shk_" + secrets.token_urlsafe(32)
    digest = hashlib.sha256(key.encode()).hexdigest()
    records.append(ApiKeyRecord(id=key_id, sha256=digest, role=role, scope=scope, unit=unit))
    path.parent.mkdir(parents=True, exist_ok=True)
    written = path.with_name(f".{path.name}.{os.getpid()}")
    written.touch(mode=0o600)
    dumped = [r.model_dump(mode="json", exclude_none=True) for r in records]
    written.write_text(json.dumps(dumped, indent=1) + "\n", encoding="utf-8")
    written.replace(path)
    return key


@dataclass
class Authenticator:
    settings: AuthSettings
    _keys: list[Any] = field(default_factory=list)
    _jwks_client: jwt.PyJWKClient | None = None
    _api_keys: dict[str, Claims] = field(default_factory=dict)
    _api_keys_read: tuple[int, ...] | None = None
    """The key file's inode, modification time and size when it was last read."""

    def __post_init__(self) -> None:
        s = self.settings
        if s.public_key_file:
            self._keys.append(s.public_key_file.read_bytes())
        if s.jwks_file:
            self._keys += [k.key for k in jwt.PyJWKSet.from_json(s.jwks_file.read_text()).keys]
        if s.jwks_url:
            self._jwks_client = jwt.PyJWKClient(s.jwks_url, cache_keys=True)
        self._read_api_keys()

    def _read_api_keys(self) -> None:
        """(Re-)read the key file when it changed since the last read."""
        path = self.settings.api_keys_file
        if path is None:
            return
        stat = path.stat() if path.exists() else None
        changed = (stat.st_ino, stat.st_mtime_ns, stat.st_size) if stat else ()
        if changed == self._api_keys_read:
            return
        self._api_keys = {
            r.sha256: Claims(sub=r.id, role=r.role, scope=r.scope, unit=r.unit)
            for r in read_api_keys(path)
        }
        self._api_keys_read = changed

    def verify_token(self, token: str) -> Principal:
        keys = list(self._keys)
        if self._jwks_client is not None:
            try:
                keys.append(self._jwks_client.get_signing_key_from_jwt(token).key)
            except jwt.PyJWTError as e:
                raise _unauthorized("auth.invalid_token", f"the token is not valid: {e}") from e
        if not keys:
            raise _unauthorized("auth.not_configured", "this service has no token keys")
        error: jwt.PyJWTError | None = None
        for key in keys:
            try:
                payload = jwt.decode(token, key, algorithms=ALGORITHMS,
                                     audience=self.settings.audience, issuer=self.settings.issuer,
                                     options={"require": ["exp", "sub", "iss", "aud"]})  # fmt: skip
            except jwt.ExpiredSignatureError:
                raise _unauthorized("auth.token_expired", "the token has expired") from None
            except jwt.PyJWTError as e:
                error = e
                continue
            return _principal(payload, "token")
        raise _unauthorized("auth.invalid_token", f"the token is not valid: {error}")

    def verify_api_key(self, key: str) -> Principal:
        self._read_api_keys()
        digest = hashlib.sha256(key.encode()).hexdigest()
        for known, claims in self._api_keys.items():
            if hmac.compare_digest(known, digest):
                return _principal(claims.model_dump(), "api_key")
        raise _unauthorized("auth.unknown_api_key", "the API key is not known")


def _principal(payload: Mapping[str, Any], method: str) -> Principal:
    try:
        claims = Claims.model_validate(payload)
    except ValidationError as e:
        raise _unauthorized("auth.invalid_claims", f"the token's claims are invalid: {e}") from e
    return Principal(claims.sub, claims.role, claims.scope, claims.person, claims.unit, method)


def _unauthorized(code: str, message: str) -> HTTPException:
    return HTTPException(401, {"code": code, "message": message},
                         headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


def issue_token(
    private_key_pem: bytes,
    claims: Claims,
    *,
    issuer: str = "shiliu",
    audience: str = "shiliu",
    lifetime: timedelta = timedelta(hours=8),
) -> str:
    """Sign a token (the embedded default and tests; production uses its identity provider)."""
    now = datetime.now(UTC)
    payload = {**claims.model_dump(mode="json", exclude_none=True), "iss": issuer,
               "aud": audience, "iat": now, "exp": now + lifetime}  # fmt: skip
    return jwt.encode(payload, private_key_pem, algorithm="EdDSA")


def principal_of(request: Request) -> Principal:
    """Authenticate the request: bearer token, then API key, then the sign-in cookie.

    Verified once per request: the rate limiter and the route share the result.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    principal = _authenticate(request)
    request.state.principal = principal
    return principal


def _authenticate(request: Request) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return authenticator.verify_token(header[7:].strip())
    if api_key := request.headers.get("x-api-key"):
        return authenticator.verify_api_key(api_key)
    if cookie := request.cookies.get(COOKIE):
        return authenticator.verify_token(cookie)
    raise _unauthorized("auth.missing_credentials", "send a bearer token or an X-API-Key")


@dataclass(frozen=True)
class Access:
    """An authenticated principal allowed the action's role check; territory comes next."""

    principal: Principal
    action: str
    rule: Rule
    correlation_id: UUID | None = None
    idempotency_key: str | None = None

    def check_place(self, *, district: str, street: str, community: str, grid: str | None) -> None:
        if self.rule.public:
            return
        if not self.principal.scope.contains(
            district=district, street=street, community=community, grid=grid
        ):
            msg = f"{self.action} at {district}/{community} is outside your territory"
            raise ForbiddenError(OUTSIDE_TERRITORY, msg)

    def check_person(self, person_id: str) -> str | None:
        """For a resident-owned item: residents only their own; others act on behalf (returned)."""
        if self.rule.ownership is not Ownership.PERSON:
            return None
        if self.principal.role is Role.RESIDENT:
            if self.principal.person != person_id:
                raise ForbiddenError("policy.not_your_own", f"{self.action} only for yourself")
            return None
        return person_id

    def check_unit(self, unit_id: str | None) -> None:
        """For a unit-owned item: unit staff only their own unit's; the other listed roles
        (community staff) act for any unit inside their territory."""
        if self.rule.ownership is not Ownership.UNIT or self.principal.role is not Role.UNIT_STAFF:
            return
        if self.principal.unit is None:
            raise ForbiddenError("policy.no_unit", "unit staff must name their unit")
        if self.principal.unit != unit_id:
            raise ForbiddenError("policy.not_your_unit", f"{self.action} only for your own unit")


def authorize(action: str) -> Any:
    """A dependency that authenticates, then checks the role against the policy table."""
    rule = POLICY[action]

    def dependency(
        principal: Annotated[Principal, Depends(principal_of)],
        x_correlation_id: Annotated[UUID | None, Header()] = None,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
    ) -> Access:
        if principal.role not in rule.roles:
            raise ForbiddenError(
                "policy.role_not_allowed", f"a {principal.role.value} may not {action}"
            )
        return Access(principal, action, rule, x_correlation_id, idempotency_key)

    dependency.action = action  # type: ignore[attr-defined]
    return Depends(dependency)
