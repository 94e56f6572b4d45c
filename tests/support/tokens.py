"""A test token issuer: an Ed25519 key pair per test run, and headers for each kind of actor."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.runtime.identity import AuthSettings, Claims, issue_token

HOME = {"district": "jinfeng", "street": "s01", "community": "c01"}


@cache
def _keys() -> tuple[bytes, Path]:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    folder = Path(tempfile.mkdtemp(prefix="shiliu-keys-"))
    (folder / "signing.pem").write_bytes(pem)
    (folder / "public.pem").write_bytes(public)
    return pem, folder


def auth_settings() -> AuthSettings:
    _, folder = _keys()
    return AuthSettings(
        public_key_file=folder / "public.pem", signing_key_file=folder / "signing.pem"
    )


def token(sub: str, role: str, scope: dict[str, Any] | None = None, **extra: Any) -> str:
    pem, _ = _keys()
    claims = Claims(sub=sub, role=role, scope=HOME if scope is None else scope, **extra)
    return issue_token(pem, claims)


def bearer(
    sub: str, role: str, scope: dict[str, Any] | None = None, **extra: Any
) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, role, scope, **extra)}"}
