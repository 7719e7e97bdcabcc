"""Instructions another provider owns (a Crossmint order intent's), verified through the
platform's instruction routes: the card networks' ceremony runs, answered in the platform's words."""

from __future__ import annotations

from typing import Any

from sandbox.core.seams import ExternalInstruction
from sandbox.core.verification import Answer
from sandbox.providers.basistheory_platform.ceremony import PASSKEY_PAGE, REDIRECT_PAGE
from sandbox.providers.basistheory_platform.errors import unprocessable


def verify(external: ExternalInstruction, instruction_id: str, links_base: str) -> dict[str, Any]:
    answer = external.verify("START", {}, links_base + PASSKEY_PAGE)
    return _platform_answer(answer, instruction_id, links_base)


def verify_passkey(external: ExternalInstruction) -> dict[str, Any]:
    """Finish the ceremony; the answer is the instruction as its owner shows it."""
    action = "MASTERCARD_AUTH_COMPLETE" if external.describe()["brand"] == "MASTERCARD" else "AUTHENTICATE_PASSKEY"
    answer = external.verify(action, {}, PASSKEY_PAGE)
    if answer.body.get("status") != "VERIFIED":
        raise unprocessable("The instruction's verification did not succeed.", status=answer.body.get("status"))
    return external.describe()


def _platform_answer(answer: Answer, reference: str, links_base: str) -> dict[str, Any]:
    """The ceremony's answer in the platform's words."""
    status, data = answer.body.get("status"), answer.body.get("data") or {}
    if status == "VERIFIED":
        return {"status": "verified"}
    if status == "ERROR":
        raise unprocessable((answer.body.get("error") or {}).get("message", "Verification failed."))
    if data.get("brand") == "MASTERCARD":
        return {"status": "redirect_required", "brand": "mastercard",
                "redirect": {"uri": f"{links_base}{REDIRECT_PAGE}{reference}", "uri_type": "WEB_URI"}}
    context = data.get("authContext") or {}
    return {"status": "passkey_required", "passkey_context": {
        "endpoint": context.get("endpoint"), "identifier": reference, "action": "AUTHENTICATE", "platform_type": "WEB"}}
