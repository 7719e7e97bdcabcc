"""Card tokens: the card behind every enrollment and 3-D Secure session."""

from __future__ import annotations

import hashlib

from sandbox.core import cards
from sandbox.core.clock import iso
from sandbox.core.errors import invalid_field
from sandbox.providers.basistheory_platform.context import Context
from sandbox.providers.basistheory_platform.models import Token, TokenCreate


def create(ctx: Context, tenant: str, body: TokenCreate) -> Token:
    data, now = body.data, ctx.rt.clock.now()
    problem = cards.expiry_problem(data.expiration_month, data.expiration_year, now)
    if problem:
        raise invalid_field("data.expiration_year", f"The {problem}." if problem.startswith("card") else f"The card {problem}.")
    # The same number always gets the same fingerprint (for one seed), so duplicates can be spotted.
    fingerprint = hashlib.sha256(f"{ctx.ids.seed}:{data.number}".encode()).hexdigest()[:44]
    token = Token(
        ctx.ids.uuid(tenant, "token"), ctx.tenant_id(tenant), cards.brand(data.number) or "unknown",
        data.number[:6], data.number[-4:], data.expiration_month, data.expiration_year, fingerprint, data.number,
        body.metadata, iso(now),
    )
    ctx.put(tenant, "token", token.id, token)
    ctx.hooks.emit(tenant, "token.created", "token", token.to_wire())
    return token


def get(ctx: Context, tenant: str, token_id: str) -> Token:
    return ctx.get(tenant, "token", token_id, "Token")


def delete(ctx: Context, tenant: str, token_id: str) -> None:
    token = get(ctx, tenant, token_id)
    ctx.delete(tenant, "token", token_id)
    ctx.hooks.emit(tenant, "token.deleted", "token", token.to_wire())
