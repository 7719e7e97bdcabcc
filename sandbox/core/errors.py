"""One way to raise an error; each provider renders it in its own wire shape.

Code raises `SandboxError` with a provider-neutral `kind`. A provider's `ErrorStyle` maps the
kind to its own HTTP status and error code (unless the error names them explicitly) and
renders the body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails


class ConfigError(Exception):
    """A setting that validated but could not be used (e.g. an unreadable key file)."""


class ErrorKind(StrEnum):
    VALIDATION = "validation"  # a body or query field is wrong
    MALFORMED = "malformed"  # the body is not JSON, or not an object
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"  # an object not in the caller's scope
    ROUTE_NOT_FOUND = "route_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_STATE = "invalid_state"  # the object's state does not allow the operation
    PAYMENT_REQUIRED = "payment_required"  # funds, budget or plan limits
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str
    type: str = "invalid"


@dataclass(slots=True)
class SandboxError(Exception):
    kind: ErrorKind
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    fields: list[FieldError] = field(default_factory=list)
    status: int | None = None  # overrides the provider's mapping for this kind
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


class ErrorStyle(Protocol):
    """How a provider turns a `SandboxError` into (HTTP status, JSON body)."""

    def render(self, error: SandboxError, instance: str) -> tuple[int, dict[str, Any]]: ...


def field_path(loc: tuple[int | str, ...]) -> str:
    """`("buyer", "email")` -> `buyer.email`; list indexes stay numeric: `rules.0.value`."""
    return ".".join(str(part) for part in loc) or "body"


MAX_FIELD_ERRORS = 100  # named in an answer; a body can hold thousands of wrong fields


def from_validation(exc: ValidationError, *, prefix: tuple[str, ...] = ()) -> SandboxError:
    fields = [
        FieldError(field_path(prefix + tuple(err["loc"])), message_of(err), err["type"])
        for err in exc.errors(include_url=False, include_input=False, include_context=False)[:MAX_FIELD_ERRORS]
    ]
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
    return SandboxError(ErrorKind.VALIDATION, f"Invalid request: {summary}", fields=fields)


def model_errors(
    model: type[BaseModel], data: Any, where: tuple[int | str, ...], *, context: dict[str, Any] | None = None,
) -> list[FieldError]:
    """Validate `data` with `model`; the problems, with paths under `where` (empty when valid).

    For items of one list that take different models (chosen by their `type`), so that paths read
    `rules.0.value` rather than a tagged union's `rules.0.maxAmount.value`.
    """
    try:
        model.model_validate(data, context=context)
    except ValidationError as exc:
        return [FieldError(field_path(where + tuple(err["loc"])), message_of(err), err["type"]) for err in exc.errors(include_url=False)]
    return []


def invalid_field(name: str, message: str) -> SandboxError:
    return SandboxError(ErrorKind.VALIDATION, f"Invalid request: {name}: {message}", fields=[FieldError(name, message)])


def message_of(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "is required"
    if err["msg"].startswith("Value error, "):  # our own validators' messages stand as written
        return err["msg"].removeprefix("Value error, ")
    msg = err["msg"]
    if not msg:
        return err["type"]
    return msg if msg[1:2].isupper() else msg[:1].lower() + msg[1:]  # keep acronyms such as "URL"


# Each kind's usual HTTP status and reason phrase; providers override what differs.
HTTP_STATUS: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.VALIDATION: (400, "Bad Request"),
    ErrorKind.MALFORMED: (400, "Bad Request"),
    ErrorKind.UNSUPPORTED_MEDIA_TYPE: (415, "Unsupported Media Type"),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "Payload Too Large"),
    ErrorKind.UNAUTHENTICATED: (401, "Unauthorized"),
    ErrorKind.FORBIDDEN: (403, "Forbidden"),
    ErrorKind.NOT_FOUND: (404, "Not Found"),
    ErrorKind.ROUTE_NOT_FOUND: (404, "Not Found"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "Method Not Allowed"),
    ErrorKind.INVALID_STATE: (409, "Conflict"),
    ErrorKind.IDEMPOTENCY_CONFLICT: (409, "Conflict"),
    ErrorKind.PAYMENT_REQUIRED: (402, "Payment Required"),
    ErrorKind.RATE_LIMITED: (429, "Too Many Requests"),
    ErrorKind.INTERNAL: (500, "Internal Server Error"),
}


class EnvelopeStyle:
    """`{"error": {"code", "message", "details"}}`: a common envelope (the control plane's too)."""

    def __init__(self, table: dict[ErrorKind, tuple[int, str]]) -> None:
        self._table = table

    def render(self, error: SandboxError, instance: str) -> tuple[int, dict[str, Any]]:
        status, code = self._table.get(error.kind, (500, "internal_error"))
        details = dict(error.details)
        if error.fields:
            details["field"] = error.fields[0].field
            details["errors"] = [{"field": f.field, "message": f.message, "type": f.type} for f in error.fields]
        body = {"code": error.code or code, "message": error.message, "details": details}
        return error.status or status, {"error": body}


def reason_phrase(status: int, default: str) -> str:
    """The reason phrase of a status, for error bodies that carry one: the sandbox's own table
    first (so answers stay the same across Python versions), then the standard one."""
    if status in _PHRASES:
        return _PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return default


_PHRASES = {status: phrase for status, phrase in HTTP_STATUS.values()}
