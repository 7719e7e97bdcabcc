"""The settings core works with, built by the face from its own configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SVIX_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@dataclass(frozen=True, slots=True)
class CoreSettings:
    seed: int = 0
    clock: datetime | None = None  # frozen at this instant when set
    public_url: str | None = None  # base of links handed out; the request's host otherwise
    max_events: int = 10_000
    webhook_retry_schedule: tuple[float, ...] = SVIX_SCHEDULE
    webhook_timeout_seconds: float = 10.0
    request_log_size: int = 1000  # requests GET /_sandbox/requests keeps; 0 keeps none
    request_log_body_bytes: int = 16 * 1024  # each body is kept (and shown) up to this many bytes
    store: str | None = None  # where state is kept beyond memory: `sqlite:DIR` or a redis:// URL (core/persistence)
