"""Basis Theory platform errors: RFC 7807 problem details, as the official SDK parses them.

400s are ValidationProblemDetails: `errors` maps each field to a list of messages.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.errors import HTTP_STATUS, ErrorKind, SandboxError, reason_phrase

_TABLE = {
    **HTTP_STATUS,
    ErrorKind.VALIDATION: (400, "One or more validation errors occurred."),  # ValidationProblemDetails' title
    ErrorKind.INVALID_STATE: (422, "Unprocessable Entity"),  # the status the SDK declares for wrong-state calls
    ErrorKind.PAYMENT_REQUIRED: (422, "Unprocessable Entity"),
}




def unprocessable(message: str, **details: Any) -> SandboxError:
    """A call the object's state (or the request's sense) does not allow: a 422, as the SDK declares."""
    return SandboxError(ErrorKind.INVALID_STATE, message, details=details)


class ProblemDetails:
    def render(self, error: SandboxError, instance: str) -> tuple[int, dict[str, Any]]:
        status, title = _TABLE.get(error.kind, _TABLE[ErrorKind.INTERNAL])
        if error.status and error.status != status:  # the title follows the status actually sent
            status, title = error.status, reason_phrase(error.status, title)
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
