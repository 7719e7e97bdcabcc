"""Basis Theory platform errors: RFC 7807 problem details, as the official SDK parses them.

400s are ValidationProblemDetails: `errors` maps each field to a list of messages.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.errors import ErrorKind, SandboxError

_TABLE: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.VALIDATION: (400, "One or more validation errors occurred."),
    ErrorKind.MALFORMED: (400, "Bad Request"),
    ErrorKind.UNSUPPORTED_MEDIA_TYPE: (415, "Unsupported Media Type"),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "Payload Too Large"),
    ErrorKind.UNAUTHENTICATED: (401, "Unauthorized"),
    ErrorKind.FORBIDDEN: (403, "Forbidden"),
    ErrorKind.NOT_FOUND: (404, "Not Found"),
    ErrorKind.ROUTE_NOT_FOUND: (404, "Not Found"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "Method Not Allowed"),
    ErrorKind.INVALID_STATE: (422, "Unprocessable Entity"),
    ErrorKind.IDEMPOTENCY_CONFLICT: (409, "Conflict"),
    ErrorKind.PAYMENT_REQUIRED: (422, "Unprocessable Entity"),
    ErrorKind.RATE_LIMITED: (429, "Too Many Requests"),
    ErrorKind.INTERNAL: (500, "Internal Server Error"),
}


class ProblemDetails:
    def render(self, error: SandboxError, instance: str) -> tuple[int, dict[str, Any]]:
        status, title = _TABLE.get(error.kind, _TABLE[ErrorKind.INTERNAL])
        status = error.status or status
        body: dict[str, Any] = {
            "type": f"https://httpstatuses.io/{status}", "title": title, "status": status,
            "detail": error.message, "instance": instance,
        }
        if error.fields:
            errors: dict[str, list[str]] = {}
            for field in error.fields:
                errors.setdefault(field.field, []).append(field.message)
            body["errors"] = errors
        if error.code:
            body["code"] = error.code
        return status, body


PROBLEM_DETAILS = ProblemDetails()
