"""What scenario rules may script for the Basis Theory platform.

Webhook delivery outcomes (`on: deliver`) come from core for every provider; the platform adds
no operation of its own yet.
"""

from __future__ import annotations

from pydantic import BaseModel

OUTCOMES: dict[str, type[BaseModel]] = {}
