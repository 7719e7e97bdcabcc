"""Dino's error envelope and codes (docs/research/dino-api.md)."""

from sandbox.core.errors import EnvelopeStyle, ErrorKind

DINO_ERRORS = EnvelopeStyle({
    ErrorKind.VALIDATION: (400, "invalid_request"),
    ErrorKind.MALFORMED: (400, "invalid_request"),
    ErrorKind.UNSUPPORTED_MEDIA_TYPE: (415, "invalid_request"),
    ErrorKind.PAYLOAD_TOO_LARGE: (413, "invalid_request"),
    ErrorKind.UNAUTHENTICATED: (401, "invalid_api_key"),
    ErrorKind.FORBIDDEN: (403, "revoked_api_key"),
    ErrorKind.NOT_FOUND: (404, "not_found"),
    ErrorKind.ROUTE_NOT_FOUND: (404, "not_found"),
    ErrorKind.METHOD_NOT_ALLOWED: (405, "invalid_request"),
    ErrorKind.INVALID_STATE: (409, "invalid_request"),
    ErrorKind.PAYMENT_REQUIRED: (402, "insufficient_wallet_balance"),
    ErrorKind.IDEMPOTENCY_CONFLICT: (409, "idempotency_key_conflict"),
    ErrorKind.RATE_LIMITED: (429, "rate_limited"),
    ErrorKind.INTERNAL: (500, "internal_error"),
})
