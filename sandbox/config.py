"""Settings: defaults, overridden by SANDBOX_* environment variables, overridden by flags.

The face owns them all; core gets a `CoreSettings` and each provider its own settings object.
"""

from __future__ import annotations

import difflib
import secrets
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, HttpUrl, SecretStr, TypeAdapter, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sandbox.core.clock import parse_instant
from sandbox.core.errors import ConfigError
from sandbox.core.security import OriginPattern
from sandbox.core.settings import SVIX_SCHEDULE, CoreSettings
from sandbox.core.webhooks.targets import HostPattern

_URL = TypeAdapter(HttpUrl)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8750, ge=0, le=65535)
    seed: int | None = Field(None, description="Fixes ids and secrets; random (and reported) when unset")
    clock: datetime | None = Field(None, description="Freeze the sandbox clock at this instant")
    public_url: str | None = Field(None, description="Base URL used in links the sandbox hands out")
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    max_events: int = Field(10_000, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    log_format: Literal["text", "json"] = Field("text", description="json: one JSON object per log line, for machines")
    request_log_size: int = Field(1000, ge=0, le=1_000_000, description="requests GET /_sandbox/requests keeps; 0 turns it off")
    request_log_body_bytes: int = Field(16 * 1024, ge=0, le=16 * 1024 * 1024, description="each logged body is kept up to this size")
    webhooks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="provider=url endpoints registered at start (comma-separated in SANDBOX_WEBHOOKS)"
    )
    webhook_retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        SVIX_SCHEDULE, description="seconds between attempts (Svix's by default)"
    )
    scenarios: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="scenario files whose rules apply from the start (comma-separated in SANDBOX_SCENARIOS)"
    )
    record: str | None = Field(None, description="write the requests served as a scenario to this file at shutdown")
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=300)
    dino_approval_threshold_cents: int = Field(50_000, gt=0, description="Authorize at or above this needs approval")
    bt_jwks: str | None = Field(None, description="JWKS file or URL: verify Basis Theory AI JWT signatures strictly")
    bt_jwt_public_key: str | None = Field(None, description="PEM public key file: verify Basis Theory AI JWTs strictly")
    dino_wallet_start_cents: int = Field(1_000_000, ge=0, description="Test USD in each new tenant's wallet")
    demo: bool = Field(False, description="at start, fill a few tenants of every provider with objects from the seed (docs/dashboard.md)")
    # Safety (docs/security.md).
    admin_token: SecretStr | None = Field(
        None, description="every /_sandbox/ route needs it (header or the login page's cookie), except the human-step pages",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="browser origins allowed to call the providers' APIs (comma-separated in SANDBOX_CORS_ORIGINS)",
    )
    cors_loopback: bool = Field(True, description="also allow http(s)://localhost, 127.0.0.1 and [::1] on any port")
    webhook_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="hosts webhooks may go to (comma-separated in SANDBOX_WEBHOOK_ALLOW); empty: any but the sandbox",
    )
    read_timeout_seconds: float = Field(30.0, gt=0, le=3600, description="a request's head, then its body, must arrive within this")
    keepalive_timeout_seconds: float = Field(75.0, gt=0, le=86400, description="an idle connection is closed after this")
    # Where state is kept (docs/deployment.md): memory by default.
    data_dir: str | None = Field(None, description="keep the state in DIR/sandbox.db (SQLite): it survives restarts and kill -9")
    store: str | None = Field(None, description="redis://host:port/db: replicas share their state through one Redis")

    @field_validator("clock", mode="before")
    @classmethod
    def _instant(cls, value: object) -> object:
        return parse_instant(value) if isinstance(value, str) else value

    @field_validator("webhooks", "scenarios", "cors_origins", "webhook_allow", mode="before")
    @classmethod
    def _endpoints(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("webhooks")
    @classmethod
    def _provider_equals_url(cls, value: list[str]) -> list[str]:
        for spec in value:
            provider, sep, url = spec.partition("=")
            try:
                valid = bool(sep and provider) and _URL.validate_python(url) is not None
            except ValueError:
                valid = False
            if not valid:
                raise ValueError(f"{spec!r} is not provider=http(s)://url")
        return value

    @field_validator("admin_token", mode="before")
    @classmethod
    def _token(cls, value: object) -> object:
        if isinstance(value, str):  # SANDBOX_ADMIN_TOKEN= is no token; a pasted newline is not part of one
            return value.strip() or None
        return value

    @field_validator("admin_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters: python -c 'import secrets; print(secrets.token_urlsafe())' makes one")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            OriginPattern.parse(origin)
        return value

    @field_validator("webhook_allow")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for pattern in value:
            HostPattern.parse(pattern)
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _URL.validate_python(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an http(s):// URL") from None
        return value

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _non_negative(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in value):
            raise ValueError("delays must be >= 0")
        return value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r} is not a redis://host:port/db URL (for a local file, use --data-dir DIR)")
        return value

    @model_validator(mode="after")
    def _one_store(self) -> Settings:
        if self.data_dir is not None and self.store is not None:
            raise ValueError("--data-dir and --store are two places for the same state: choose one")
        return self

    @property
    def store_url(self) -> str | None:
        """The backend core builds: `sqlite:DIR`, a redis:// URL, or None for memory."""
        return f"sqlite:{self.data_dir}" if self.data_dir is not None else self.store

    @property
    def token(self) -> str | None:
        return self.admin_token.get_secret_value() if self.admin_token is not None else None

    @cached_property
    def effective_seed(self) -> int:
        return self.seed if self.seed is not None else secrets.randbits(32)

    def core(self) -> CoreSettings:
        return CoreSettings(
            seed=self.effective_seed, clock=self.clock, public_url=self.public_url, max_events=self.max_events,
            webhook_retry_schedule=self.webhook_retry_schedule, webhook_timeout_seconds=self.webhook_timeout_seconds,
            request_log_size=self.request_log_size, request_log_body_bytes=self.request_log_body_bytes, store=self.store_url,
        )


# Read by other tools (the pytest plugin), not by the server.
OTHER_VARIABLES = frozenset({"SANDBOX_URL"})


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A misspelled SANDBOX_* variable is silently ignored by the settings: say so at start."""
    known = {f"SANDBOX_{name.upper()}" for name in Settings.model_fields} | OTHER_VARIABLES
    warnings = []
    for name in sorted(n for n in environ if n.upper().startswith("SANDBOX_") and n.upper() not in known):
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(sorted(known))}"
        warnings.append(f"unknown setting {name} is ignored{hint}")
    return warnings


__all__ = ["ConfigError", "Settings", "unknown_variables"]
