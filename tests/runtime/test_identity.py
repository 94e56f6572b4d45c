"""Signed tokens, JWKS and API keys: who a request comes from, or a 401 saying why."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.runtime.http import service_app
from services.runtime.identity import Access, AuthSettings, Claims, authorize, issue_token


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _app(auth: AuthSettings) -> FastAPI:
    app = service_app("probe", auth=auth)

    @app.get("/probe")
    def probe(access: Annotated[Access, authorize("ledger.read")]) -> dict[str, str]:
        return {"id": access.principal.id, "via": access.principal.method}

    return app


@pytest.fixture
def issuer(tmp_path: Path) -> tuple[Ed25519PrivateKey, AuthSettings]:
    key = Ed25519PrivateKey.generate()
    public = tmp_path / "public.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, AuthSettings(public_key_file=public)


INVALID = "auth.invalid_token"
ONE = timedelta(seconds=5)
OFFICIAL = Claims(sub="official-1", role="district_official", scope={"district": "jinfeng"})


def _call(app: FastAPI, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    response = TestClient(app).get("/probe", headers=headers)
    return response.status_code, response.json()


def test_a_token_signed_by_the_configured_key_identifies_the_caller(issuer) -> None:  # type: ignore[no-untyped-def]
    key, auth = issuer
    token = issue_token(_pem(key), OFFICIAL)
    assert _call(_app(auth), {"Authorization": f"Bearer {token}"}) == (
        200,
        {"id": "official-1", "via": "token"},
    )


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda key: issue_token(_pem(Ed25519PrivateKey.generate()), OFFICIAL), INVALID),
        (lambda key: issue_token(_pem(key), OFFICIAL, lifetime=-ONE), "auth.token_expired"),
        (lambda key: issue_token(_pem(key), OFFICIAL, audience="someone-else"), INVALID),
        (lambda key: issue_token(_pem(key), OFFICIAL, issuer="someone-else"), INVALID),
        (lambda key: issue_token(_pem(key), OFFICIAL)[:-4] + "AAAA", INVALID),
        (lambda key: jwt.encode({"sub": "x", "role": "operator"}, "secret", algorithm="HS256"),
         INVALID),
    ],
    ids=["foreign key", "expired", "wrong audience", "wrong issuer", "tampered", "hmac downgrade"],
)  # fmt: skip
def test_a_bad_token_is_401_with_a_reason(issuer, tamper, code) -> None:  # type: ignore[no-untyped-def]
    key, auth = issuer
    status, body = _call(_app(auth), {"Authorization": f"Bearer {tamper(key)}"})
    assert status == 401
    assert body["error"]["code"] == code  # type: ignore[index]


def test_a_token_with_an_unknown_role_is_refused(issuer) -> None:  # type: ignore[no-untyped-def]
    key, auth = issuer
    token = jwt.encode(
        {"sub": "x", "role": "emperor", "iss": "shiliu", "aud": "shiliu", "exp": 4102444800},
        _pem(key),
        algorithm="EdDSA",
    )
    status, body = _call(_app(auth), {"Authorization": f"Bearer {token}"})
    assert (status, body["error"]["code"]) == (401, "auth.invalid_claims")  # type: ignore[index]


def test_tokens_verify_against_a_jwks_from_an_identity_provider(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "idp-1"}]}))
    app = _app(AuthSettings(jwks_file=tmp_path / "jwks.json"))
    token = issue_token(_pem(key), OFFICIAL)
    assert _call(app, {"Authorization": f"Bearer {token}"})[0] == 200


def test_an_api_key_identifies_a_member_units_system_and_an_unknown_key_is_401(
    tmp_path: Path,
) -> None:
    records = [
        {"id": "unit-c01-1-system", "sha256": hashlib.sha256(b"k-123").hexdigest(),
         "role": "district_official", "scope": {"district": "jinfeng"}},
    ]  # fmt: skip
    (tmp_path / "keys.json").write_text(json.dumps(records))
    app = _app(AuthSettings(api_keys_file=tmp_path / "keys.json"))
    assert _call(app, {"X-API-Key": "k-123"}) == (
        200,
        {"id": "unit-c01-1-system", "via": "api_key"},
    )
    status, body = _call(app, {"X-API-Key": "k-124"})
    assert (status, body["error"]["code"]) == (401, "auth.unknown_api_key")  # type: ignore[index]


def test_a_role_outside_the_policy_is_403_with_the_reason(issuer) -> None:  # type: ignore[no-untyped-def]
    key, auth = issuer
    resident = Claims(sub="r1", role="resident", person="p1")
    status, body = _call(
        _app(auth), {"Authorization": f"Bearer {issue_token(_pem(key), resident)}"}
    )
    assert status == 403
    assert body["error"] == {
        "code": "policy.role_not_allowed",
        "message": "a resident may not ledger.read",
    }
