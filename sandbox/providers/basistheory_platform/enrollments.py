"""Agentic enrollments: a card token enrolled for agents, and the ceremony that verifies it.

The ceremony moves a step at a time (`step`): new -> challenge -> otp_sent -> device_bound, or
new -> redirect | passkey; then complete. The status moves only through the machine.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.errors import ErrorKind, SandboxError, invalid_field
from sandbox.providers.basistheory_platform import agents, ceremony, magic
from sandbox.providers.basistheory_platform.brands import brand_name
from sandbox.providers.basistheory_platform.context import Context
from sandbox.providers.basistheory_platform.errors import unprocessable
from sandbox.providers.basistheory_platform.events import PROVIDER
from sandbox.providers.basistheory_platform.machine import ENROLLMENT_TRANSITIONS, ENROLLMENTS, EnrollmentAction, refuse_enrollment
from sandbox.providers.basistheory_platform.models import Enrollment, EnrollmentCreate, Token

# The steps each verify call may follow (verify itself may be asked again mid-ceremony).
STEPS = {
    "start": ("new", "challenge", "redirect", "passkey"),
    "method": ("challenge",),
    "otp": ("otp_sent",),
    "complete": ("device_bound", "redirect", "passkey"),
}


def create(ctx: Context, tenant: str, body: EnrollmentCreate) -> Enrollment:
    token: Token | None = ctx.find(tenant, "token", body.token_id)
    if token is None:
        raise invalid_field("token_id", "The token was not found.")
    profile = magic.profile(token.number, token.brand)
    if profile is None:
        raise unprocessable(f"A {brand_name(token.brand)} card cannot be enrolled: only Visa and Mastercard can.")
    agent_ids = _agent_ids(ctx, tenant, body)
    provider = "stripe-mock" if body.type == "spt" else f"{token.brand}-mock"
    enrollment = Enrollment(
        ctx.ids.uuid(tenant, "enrollment"), token.id, {**token.card(), "segment": "consumer", "type": "credit"},
        list(agent_ids), body.wallet_name or "Agent Wallet", body.type, provider, _first_status(body.type, profile),
        ctx.now(), profile,
    )
    ctx.put(tenant, "enrollment", enrollment.id, enrollment)
    for agent_id in agent_ids:
        agents.get(ctx, tenant, agent_id).enrollment_ids.append(enrollment.id)
    ctx.hooks.emit(tenant, "agentic.enrollment.created", "enrollment", enrollment.to_wire())
    return enrollment


def _agent_ids(ctx: Context, tenant: str, body: EnrollmentCreate) -> list[str]:
    """The agents named (by either field), each once; every one must exist."""
    named = body.agent_ids if body.agent_ids is not None else ([body.agent_id] if body.agent_id else [])
    agent_ids = list(dict.fromkeys(named))
    for agent_id in agent_ids:
        if ctx.find(tenant, "agent", agent_id) is None:
            raise invalid_field("agent_ids" if body.agent_ids is not None else "agent_id", f"The agent {agent_id} was not found.")
    return agent_ids


def _first_status(kind: str, profile: magic.Profile) -> str:
    """SPT and autofill enrollments need no ceremony; some magic cards fail before theirs."""
    if kind in ("spt", "autofill"):
        return "active"
    return "failed" if profile.fails_first else "pending_verification"


def get(ctx: Context, tenant: str, enrollment_id: str) -> Enrollment:
    return ctx.get(tenant, "enrollment", enrollment_id, "Enrollment")


def delete(ctx: Context, tenant: str, enrollment_id: str) -> None:
    enrollment = get(ctx, tenant, enrollment_id)
    ctx.record(tenant, ENROLLMENTS.apply(enrollment, EnrollmentAction.DELETE), "enrollment", enrollment)


def retry(ctx: Context, tenant: str, enrollment_id: str) -> Enrollment:
    enrollment = get(ctx, tenant, enrollment_id)
    ENROLLMENTS.apply(enrollment, EnrollmentAction.RETRY)  # only a failed one; announced by no event
    enrollment.step = "new"  # the ceremony starts over
    return enrollment


def suspend(ctx: Context, enrollment_id: str) -> Enrollment:
    """The network suspends an active enrollment (the control plane plays it; any key's enrollment)."""
    return _network(ctx, enrollment_id, EnrollmentAction.SUSPEND)


def reinstate(ctx: Context, enrollment_id: str) -> Enrollment:
    """The network lifts a suspension: the enrollment is active again."""
    return _network(ctx, enrollment_id, EnrollmentAction.REINSTATE)


def _network(ctx: Context, enrollment_id: str, action: EnrollmentAction) -> Enrollment:
    space = ctx.rt.store.locate("enrollment", enrollment_id)
    if space is None or space.provider != PROVIDER:
        raise SandboxError(ErrorKind.NOT_FOUND, f"Enrollment {enrollment_id} not found")
    enrollment = get(ctx, space.tenant, enrollment_id)
    ctx.record(space.tenant, ENROLLMENTS.apply(enrollment, action), "enrollment", enrollment)
    return enrollment


def verify(ctx: Context, tenant: str, enrollment_id: str, action: str, value: str | None, links_base: str) -> dict[str, Any]:
    """One call of the ceremony: `start`, `method` (value: the method id), `otp` (value: the code) or `complete`."""
    enrollment = get(ctx, tenant, enrollment_id)
    if not ENROLLMENTS.can(enrollment, EnrollmentAction.VERIFY):  # the SDK declares 409 for verify (start) only
        raise refuse_enrollment(enrollment, ENROLLMENT_TRANSITIONS[EnrollmentAction.VERIFY], 409 if action == "start" else None)
    if enrollment.step not in STEPS[action]:
        raise unprocessable(f"verify/{action} does not apply now (verification is at {enrollment.step}).", step=enrollment.step)
    if action == "start":
        return _start(ctx, tenant, enrollment, links_base)
    if action == "method":
        if value not in [m["id"] for m in ceremony.OTP_METHODS]:
            raise invalid_field("method_id", "The method_id is not one of the offered methods.")
        enrollment.step, enrollment.method_id = "otp_sent", value
        return {"status": "otp_sent"}
    if action == "otp":
        enrollment.step = "device_bound"  # the provider's test tenants accept any code
        return {"status": "device_bound"}
    _verified(ctx, tenant, enrollment)
    return {"status": "verified"}


def _start(ctx: Context, tenant: str, enrollment: Enrollment, links_base: str) -> dict[str, Any]:
    """What the card's magic profile makes of verify (start)."""
    outcome = enrollment.profile.verify
    if outcome == "approved":
        _verified(ctx, tenant, enrollment)
        return {"status": "approved"}
    if outcome == "challenge":
        enrollment.step = "challenge"
        return {"status": "challenge", "methods": [dict(m) for m in ceremony.OTP_METHODS]}
    if outcome == "redirect_required":
        enrollment.step = "redirect"
        return {"status": "redirect_required", "brand": "mastercard", "redirect": ceremony.redirect(ctx.rt, enrollment.id, links_base)}
    enrollment.step = "passkey"
    return {"status": "passkey_required", "passkey_context": ceremony.passkey(enrollment.id, enrollment.card, "REGISTER", links_base)}


def _verified(ctx: Context, tenant: str, enrollment: Enrollment) -> None:
    """The ceremony is over: the enrollment turns active and says so."""
    enrollment.step = "verified"
    ctx.record(tenant, ENROLLMENTS.apply(enrollment, EnrollmentAction.VERIFY), "enrollment", enrollment)
