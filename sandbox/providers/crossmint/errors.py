"""Crossmint's error bodies: NestJS style, `{"statusCode", "error", "message"}` (+ `code`).

Validation failures list one message per problem, as NestJS's class-validator does.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.errors import HTTP_STATUS, ErrorKind, SandboxError, reason_phrase

_TABLE = {**HTTP_STATUS, ErrorKind.PAYMENT_REQUIRED: (422, "Unprocessable Entity")}  # eligibility and mandates


class CrossmintErrors:
    def render(self, error: SandboxError, instance: str) -> tuple[int, dict[str, Any]]:
        status, reason = _TABLE.get(error.kind, _TABLE[ErrorKind.INTERNAL])
        if error.status and error.status != status:  # the reason follows the status actually sent
            status, reason = error.status, reason_phrase(error.status, reason)
        message: str | list[str] = [f"{f.field} {f.message}" for f in error.fields] if error.fields else error.message
        body: dict[str, Any] = {"statusCode": status, "error": reason, "message": message}
        if error.code:
            body["code"] = error.code
        body.update(error.details)
        return status, body


CROSSMINT_ERRORS = CrossmintErrors()
