"""The matching service's settings and composition root; it has no capability yet."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.http import service_app
from services.runtime.identity import AuthSettings


class MatchingSettings(BaseSettings):
    """Environment: `SHILIU_MATCHING_…`."""

    model_config = SettingsConfigDict(env_prefix="SHILIU_MATCHING_", env_nested_delimiter="__")

    auth: AuthSettings = AuthSettings()
    host: str = "127.0.0.1"
    port: int = Field(default=8703, ge=1, le=65535)


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    return service_app("matching", auth=(settings or MatchingSettings()).auth)
