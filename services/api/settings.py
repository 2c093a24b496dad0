"""The API's settings, built once by ``ioc api``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from services.common.settings import CommonSettings, env_int


@dataclass(frozen=True, slots=True)
class ApiSettings:
    common: CommonSettings
    host: str
    port: int
    max_page: int  # the most rows one observations request returns

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] = os.environ, *, port: int | None = None
    ) -> ApiSettings:
        return cls(
            common=CommonSettings.from_env(env),
            host=env.get("IOC_API_HOST", "127.0.0.1"),
            port=port if port is not None else env_int(env, "IOC_API_PORT", 8000),
            max_page=env_int(env, "IOC_API_MAX_PAGE", 10_000),
        )
