"""Reusable pydantic field types that validate without rewriting what the caller sent."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, HttpUrl, StringConstraints, TypeAdapter

_HTTP_URL = TypeAdapter(HttpUrl)


def _http_url(value: str) -> str:
    _HTTP_URL.validate_python(value)  # validate, but keep the caller's exact string
    return value


@lru_cache(maxsize=4096)  # agents reuse a handful of addresses; validation is slow pure Python
def _email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email  # ~20 ms to import: paid by the first address

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return value  # the caller's exact string, not the normalized form


Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]
Url = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url)]
