"""Crossmint's error bodies: NestJS style, `{"statusCode", "error", "message"}` (+ `code`).

Validation failures list one message per problem, as NestJS's class-validator does.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.errors import ErrorKind, SandboxError

_TABLE: dict[ErrorKind, tuple[int, str]] = {
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
    ErrorKind.PAYMENT_REQUIRED: (422, "Unprocessable Entity"),
    ErrorKind.RATE_LIMITED: (429, "Too Many Requests"),
    ErrorKind.INTERNAL: (500, "Internal Server Error"),
}


class CrossmintErrors:
    def render(self, error: SandboxError, instance: str) -> tuple[int, dict[str, Any]]:
        status, reason = _TABLE.get(error.kind, _TABLE[ErrorKind.INTERNAL])
        status = error.status or status
        message: str | list[str] = [f"{f.field} {f.message}" for f in error.fields] if error.fields else error.message
        body: dict[str, Any] = {"statusCode": status, "error": reason, "message": message}
        if error.code:
            body["code"] = error.code
        body.update(error.details)
        return status, body


CROSSMINT_ERRORS = CrossmintErrors()
