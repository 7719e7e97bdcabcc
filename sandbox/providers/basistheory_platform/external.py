"""Instructions another provider owns (a Crossmint order intent's), served by the platform's
instruction routes through the runtime's seam (`core/seams.py`): read (`GET`), verified
(`verify`, then `verify/passkey`), each answered in the platform's words.

Only those three routes reach them: an external instruction is updated, deleted and spent
through its owner's API, so `PATCH`, `DELETE` and `credentials` find nothing (404), and the
agent behind it is no platform agent (its `GET` and its instruction list are 404 too).
"""

from __future__ import annotations

from typing import Any

from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.seams import ExternalInstruction
from sandbox.core.verification import Answer
from sandbox.providers.basistheory_platform.ceremony import PASSKEY_PAGE, REDIRECT_PAGE
from sandbox.providers.basistheory_platform.errors import unprocessable

# The refusals of the platform's own instructions (machine.py, instructions.py), said for another
# provider's too: verify past pending_verification, and verify/passkey before verify.
VERIFIED_ONCE = "The instruction is {status}; only pending_verification ones are verified."
PASSKEY_FIRST = "Start the instruction's verification (verify) before verify/passkey."

# The Instruction's wire fields in the order the platform's own instructions have them, with what
# an owner that does not say shows: the SDK's Instruction has every field optional.
FIELDS: dict[str, Any] = {
    "enrollment_id": None, "amount": None, "description": None, "expires_at": None, "recurring": None,
    "status": None, "type": "agentic", "credential_type": "card", "created_at": None,
}


def instruction(external: ExternalInstruction) -> dict[str, Any]:
    """The instruction as `GET …/instructions/{id}` and `verify/passkey` answer it: the platform's
    Instruction shape, with what its owner describes (fields the Instruction does not have are left out)."""
    described = external.describe()
    return {"id": external.id, **{name: described.get(name, default) for name, default in FIELDS.items()}}


def verify(external: ExternalInstruction, instruction_id: str, links_base: str) -> dict[str, Any]:
    _pending(external)
    answer = external.verify("START", {}, links_base + PASSKEY_PAGE)
    return _platform_answer(answer, instruction_id, links_base)


def verify_passkey(external: ExternalInstruction) -> dict[str, Any]:
    """Finish the ceremony; the answer is the instruction itself, approved (as the SDK's
    `verify.passkey` reads it)."""
    _pending(external, PASSKEY_FIRST)
    action = "MASTERCARD_AUTH_COMPLETE" if (external.brand or "").upper() == "MASTERCARD" else "AUTHENTICATE_PASSKEY"
    try:
        answer = external.verify(action, {}, PASSKEY_PAGE)
    except SandboxError as error:  # the owner's ceremony was not started: say so as for the platform's own
        if error.kind is ErrorKind.INVALID_STATE and "START" in (error.details.get("expectedActions") or ()):
            raise unprocessable(PASSKEY_FIRST, status="pending_verification") from None
        raise
    if answer.body.get("status") != "VERIFIED":
        raise unprocessable("The instruction's verification did not succeed.", status=answer.body.get("status"))
    return instruction(external)


def _pending(external: ExternalInstruction, refusal: str = VERIFIED_ONCE) -> None:
    """Only a pending_verification instruction is verified: the platform's own refusal, in its words
    (not the owner's, which would name its order intent and phases)."""
    status = external.describe().get("status")
    if status != "pending_verification":
        raise unprocessable(refusal.format(status=status), status=status)


def _platform_answer(answer: Answer, instruction_id: str, links_base: str) -> dict[str, Any]:
    """The ceremony's answer in the platform's words. The passkey step names the instruction, as
    for the platform's own instructions: `identifier` is the instruction's id, and so is the
    `identifier` of the passkey page behind `endpoint`."""
    status, data = answer.body.get("status"), answer.body.get("data") or {}
    if status == "VERIFIED":
        return {"status": "verified"}
    if status == "ERROR":
        raise unprocessable((answer.body.get("error") or {}).get("message", "Verification failed."))
    if data.get("brand") == "MASTERCARD":
        return {"status": "redirect_required", "brand": "mastercard",
                "redirect": {"uri": f"{links_base}{REDIRECT_PAGE}{instruction_id}", "uri_type": "WEB_URI"}}
    return {"status": "passkey_required", "passkey_context": {
        "endpoint": f"{links_base}{PASSKEY_PAGE}?identifier={instruction_id}", "identifier": instruction_id,
        "action": "AUTHENTICATE", "platform_type": "WEB"}}
