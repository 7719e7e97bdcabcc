"""Basis Theory AI's error envelope (seed 002; docs/research/basistheory-ai-wire.md §5):

`{"error": {"status", "type", "title", "message", "details": {"fields": {path: message}}}}`.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.errors import ErrorKind, SandboxError, reason_phrase

UNAUTHORIZED_MESSAGE = "Missing or invalid API key was provided."  # the provider's own wording
VALIDATION_MESSAGE = "The request contained invalid data."


_TABLE: dict[ErrorKind, tuple[int, str, str]] = {
    ErrorKind.VALIDATION: (400, "validation_error", "Validation failed"),
    ErrorKind.MALFORMED: (400, "bad_request", "Bad Request"),
    ErrorKind.UNSUPPORTED_MEDIA_TYPE: (415, "unsupported_media_type", "Unsupported Media Type"),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "payload_too_large", "Payload Too Large"),
    ErrorKind.UNAUTHENTICATED: (401, "unauthorized", "Unauthorized"),
    ErrorKind.FORBIDDEN: (403, "forbidden", "Forbidden"),
    ErrorKind.NOT_FOUND: (404, "not_found", "Not Found"),
    ErrorKind.ROUTE_NOT_FOUND: (404, "not_found", "Not Found"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "method_not_allowed", "Method Not Allowed"),
    ErrorKind.INVALID_STATE: (409, "conflict", "Conflict"),
    ErrorKind.IDEMPOTENCY_CONFLICT: (409, "idempotency_conflict", "Conflict"),
    ErrorKind.PAYMENT_REQUIRED: (402, "card_declined", "Payment Required"),
    ErrorKind.RATE_LIMITED: (429, "rate_limited", "Too Many Requests"),
    ErrorKind.INTERNAL: (500, "internal_error", "Internal Server Error"),
}


class BasisTheoryAiErrors:
    def render(self, error: SandboxError, instance: str) -> tuple[int, dict[str, Any]]:
        status, kind, title = _TABLE.get(error.kind, _TABLE[ErrorKind.INTERNAL])
        if error.status and error.status != status:  # the title follows the status actually sent
            status, title = error.status, reason_phrase(error.status, title)
        body: dict[str, Any] = {"status": status, "type": error.code or kind, "title": title}
        if error.fields:
            body["message"] = VALIDATION_MESSAGE
            body["details"] = {"fields": {f.field: f.message for f in error.fields}, **error.details}
        else:
            body["message"] = error.message
            if error.details:
                body["details"] = error.details
        return status, {"error": body}


BT_AI_ERRORS = BasisTheoryAiErrors()
