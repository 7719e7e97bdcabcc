"""The control plane's own error shape: the common `{"error": {code, message, details}}` envelope, generic codes."""

from sandbox.core.errors import EnvelopeStyle, ErrorKind, invalid_field
from sandbox.core.runtime import Runtime

CONTROL_ERRORS = EnvelopeStyle({
    ErrorKind.VALIDATION: (400, "invalid_request"),
    ErrorKind.MALFORMED: (400, "invalid_request"),
    ErrorKind.UNSUPPORTED_MEDIA_TYPE: (415, "unsupported_media_type"),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "payload_too_large"),
    ErrorKind.UNAUTHENTICATED: (401, "unauthenticated"),
    ErrorKind.FORBIDDEN: (403, "forbidden"),
    ErrorKind.NOT_FOUND: (404, "not_found"),
    ErrorKind.ROUTE_NOT_FOUND: (404, "not_found"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "method_not_allowed"),
    ErrorKind.INVALID_STATE: (409, "invalid_state"),
    ErrorKind.PAYMENT_REQUIRED: (402, "payment_required"),
    ErrorKind.IDEMPOTENCY_CONFLICT: (409, "idempotency_key_conflict"),
    ErrorKind.RATE_LIMITED: (429, "rate_limited"),
    ErrorKind.INTERNAL: (500, "internal_error"),
})


def known_provider(rt: Runtime, provider: str | None, *, also: tuple[str, ...] = ()) -> None:
    """A misspelled provider is an error, never a filter that matches nothing (or a reset of all)."""
    if provider is not None and provider not in rt.providers and provider not in also:
        raise invalid_field("provider", f"must be one of {', '.join([*rt.providers.names, *also])}")
