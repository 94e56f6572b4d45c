"""The notify service's settings and composition root; it has no capability yet."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.http import service_app
from services.runtime.identity import AuthSettings


class NotifySettings(BaseSettings):
    """Environment: `SHILIU_NOTIFY_…`."""

    model_config = SettingsConfigDict(env_prefix="SHILIU_NOTIFY_", env_nested_delimiter="__")

    auth: AuthSettings = AuthSettings()
    host: str = "127.0.0.1"
    port: int = Field(default=8704, ge=1, le=65535)


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    return service_app("notify", auth=(settings or NotifySettings()).auth)
