"""Request bodies of the control plane."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from sandbox.core.clock import MAX_TIMESTAMP, parse_instant
from sandbox.core.fields import Url
from sandbox.core.webhooks.signing import checked_secret


class Body(BaseModel):
    # defer_build: each model's validator is built by its first use, not at import (start-up time)
    model_config = ConfigDict(extra="forbid", defer_build=True)


class AdvanceClock(Body):
    seconds: Annotated[float, Field(gt=0, le=10 * 365 * 86400, strict=True, allow_inf_nan=False)]  # "10" or true is a typo


class SetClock(Body):
    now: datetime | None = None
    frozen: Annotated[bool, Field(strict=True)] | None = None
    # Run at real time plus this, alone.
    offset_seconds: Annotated[float, Field(ge=-1e10, le=1e10, strict=True, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _offset_alone(self) -> SetClock:
        if self.offset_seconds is not None and (self.now is not None or self.frozen):
            raise ValueError("offset_seconds runs the clock: send it without now and frozen: true")
        return self

    @field_validator("now", mode="before")
    @classmethod
    def _instant(cls, value: object) -> object:
        return parse_instant(value) if isinstance(value, str) else value

    @field_validator("now")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        if value is not None and not 0 <= value.timestamp() < MAX_TIMESTAMP:
            raise ValueError("must be between 1970 and the year 9000")
        return value


class Reset(Body):
    provider: str | None = None
    tenant: str | None = None


class EventQuery(BaseModel):
    provider: str | None = None
    tenant: str | None = None
    type: str | None = None
    object_id: str | None = None
    limit: Annotated[int, Field(ge=1, le=10_000)] = 1000


Secret = Annotated[str, AfterValidator(checked_secret)]


class EndpointBody(Body):
    provider: str
    url: Url
    tenant: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    events: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1, max_length=100)] | None = None
    secret: Secret | None = None
    description: Annotated[str, Field(max_length=500)] | None = None


class EndpointPatch(Body):
    # `url` and `enabled` cannot be null (left out: unchanged); null removes a filter below.
    url: Url = None  # type: ignore[assignment]
    tenant: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    events: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1, max_length=100)] | None = None
    enabled: bool = None  # type: ignore[assignment]
    description: Annotated[str, Field(max_length=500)] | None = None


class Rotate(Body):
    secret: Secret | None = None
    overlap_seconds: Annotated[float, Field(ge=0, le=7 * 86400)] = 24 * 3600


class DeliveryQuery(BaseModel):
    endpoint_id: str | None = None
    event_type: str | None = None
    object_id: str | None = None
    status: Literal["pending", "delivered", "failed"] | None = None
    provider: str | None = None
    tenant: str | None = None
    limit: Annotated[int, Field(ge=1, le=10_000)] = 1000


class Flush(BaseModel):
    timeout: Annotated[float, Field(gt=0, le=120)] = 10.0


class ObjectQuery(BaseModel):
    provider: str | None = None
    tenant: str | None = None
    kind: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    q: Annotated[str, Field(min_length=1, max_length=300)] | None = None  # an id, or a part of one (any case)
    internal: bool = False  # also the providers' own records (indexes, settings, flags), which are no API objects
    limit: Annotated[int, Field(ge=1, le=10_000)] = 500
