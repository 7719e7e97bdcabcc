"""A Crossmint order intent's instruction, read and verified through the Basis Theory platform API
with its `verificationConfig` (issue 16): the official SDK's `instructions.get`, `verify.start` and
`verify.passkey`, as Crossmint's front end calls them, over the instruction seam (core/seams.py)."""

from __future__ import annotations

from typing import Any

import pytest
from basis_theory import AsyncBasisTheory
from basis_theory.errors import NotFoundError

from tests.cm import Cm

DEVICE = {"screen_height": 800, "screen_width": 1200, "user_agent_string": "Mozilla/5.0", "language_code": "en-US",
          "time_zone": "UTC", "java_script_enabled": True, "client_device_id": "d1", "client_reference_id": "r1",
          "platform_type": "WEB"}
NO_RETRIES: Any = {"max_retries": 0}
# The SDK's Instruction, in the platform's own field order (its instructions have exactly these).
INSTRUCTION_FIELDS = ["id", "enrollment_id", "amount", "description", "expires_at", "recurring", "status", "type",
                      "credential_type", "created_at"]


def base_of(cm: Cm) -> str:
    return str(cm.client.make_url("")).rstrip("/")


def sdk(cm: Cm, key: str) -> AsyncBasisTheory:
    return AsyncBasisTheory(api_key=key, base_url=base_of(cm), max_retries=0, timeout=10)


async def raw(cm: Cm, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    async with cm.client.request(method, path, json=body, headers={"BT-API-KEY": key}) as resp:
        return resp.status, await resp.json() if resp.content_type == "application/json" else await resp.text()


async def intent_needing_verification(cm: Cm, number: str = "4000000000000002") -> tuple[dict[str, Any], dict[str, str]]:
    intent = await cm.intent(method=await cm.enrolled(number))
    assert intent["phase"] == "requires-verification", intent
    return intent, intent["verificationConfig"]


async def test_the_instruction_reads_through_the_sdk_before_and_after_its_verification(cm):
    intent, config = await intent_needing_verification(cm)
    bt = sdk(cm, config["publicApiKey"])
    agent_id, instruction_id = config["agentId"], config["instructionId"]

    before = await bt.agentic.agents.instructions.get(agent_id, instruction_id)
    assert (before.id, before.status, before.type, before.credential_type) == (instruction_id, "pending_verification", "agentic", "card")
    status, wire = await raw(cm, "GET", f"/agentic/agents/{agent_id}/instructions/{instruction_id}", config["publicApiKey"])
    assert status == 200 and list(wire) == INSTRUCTION_FIELDS  # the Instruction's shape: no owner-only fields
    assert wire["id"] == instruction_id and wire["status"] == "pending_verification"
    # The order intent's maxAmount mandate is the instruction's amount; its creation time is the instruction's.
    mandate = next(m for m in intent["mandates"] if m["type"] == "maxAmount")
    assert wire["amount"] == {"value": mandate["value"], "currency": mandate["details"]["currency"].upper()}
    assert wire["created_at"] == intent["createdAt"] and wire["description"]

    started = await bt.agentic.agents.instructions.verify.start(agent_id, instruction_id, device_context=DEVICE)
    assert started.status == "passkey_required" and started.passkey_context.action == "AUTHENTICATE"
    # The passkey step names the instruction: its identifier, and the page behind its endpoint.
    assert started.passkey_context.identifier == instruction_id
    assert started.passkey_context.endpoint == f"{base_of(cm)}/_sandbox/basistheory/passkey?identifier={instruction_id}"
    async with cm.client.get(f"/_sandbox/basistheory/passkey?identifier={instruction_id}") as page:
        text = await page.text()
        assert page.status == 200 and intent["orderIntentId"] in text and f"instructions/{instruction_id}/verify/passkey" in text

    approved = await bt.agentic.agents.instructions.verify.passkey(agent_id, instruction_id, assurance_data={
        "identifier": started.passkey_context.identifier})
    assert (approved.id, approved.status) == (instruction_id, "approved")
    assert (await bt.agentic.agents.instructions.get(agent_id, instruction_id)).status == "approved"
    assert (await cm.read(intent["orderIntentId"]))["phase"] == "active"


async def test_verify_passkey_answers_the_instruction_itself(cm):
    _, config = await intent_needing_verification(cm)
    key, agent_id, instruction_id = config["publicApiKey"], config["agentId"], config["instructionId"]
    path = f"/agentic/agents/{agent_id}/instructions/{instruction_id}"
    assert (await raw(cm, "POST", f"{path}/verify", key, {"device_context": DEVICE}))[0] == 200
    status, answer = await raw(cm, "POST", f"{path}/verify/passkey", key, {"assurance_data": {}})
    assert status == 200 and list(answer) == INSTRUCTION_FIELDS and answer["status"] == "approved"
    status, read = await raw(cm, "GET", path, key)
    assert (status, read) == (200, answer)


async def test_a_mastercard_instruction_reads_and_verifies_through_the_redirect(cm):
    intent, config = await intent_needing_verification(cm, "5186161910000103")
    bt = sdk(cm, config["publicApiKey"])
    agent_id, instruction_id = config["agentId"], config["instructionId"]
    started = await bt.agentic.agents.instructions.verify.start(agent_id, instruction_id, device_context=DEVICE)
    assert started.status == "redirect_required" and started.redirect.uri.endswith(f"/_sandbox/basistheory/redirect/{instruction_id}")
    assert (await bt.agentic.agents.instructions.get(agent_id, instruction_id)).status == "pending_verification"
    approved = await bt.agentic.agents.instructions.verify.passkey(agent_id, instruction_id, assurance_data={"result": "ok"})
    assert approved.status == "approved" and (await cm.read(intent["orderIntentId"]))["phase"] == "active"


async def test_only_the_config_key_and_agent_reach_the_instruction(cm):
    _, config = await intent_needing_verification(cm)
    agent_id, instruction_id = config["agentId"], config["instructionId"]
    with pytest.raises(NotFoundError):
        await sdk(cm, "key_test_someone_else").agentic.agents.instructions.get(agent_id, instruction_id, request_options=NO_RETRIES)
    with pytest.raises(NotFoundError):
        await sdk(cm, config["publicApiKey"]).agentic.agents.instructions.get("agt_btother", instruction_id, request_options=NO_RETRIES)


async def test_the_rest_of_an_external_instruction_stays_with_its_owner(cm):
    """Update, delete, credentials, the agent and the agent's list: the seam resolves one instruction
    by id for reading and verifying only (docs/basistheory.md)."""
    intent, config = await intent_needing_verification(cm)
    key, agent_id, instruction_id = config["publicApiKey"], config["agentId"], config["instructionId"]
    path = f"/agentic/agents/{agent_id}/instructions/{instruction_id}"
    for method, where, body in (("PATCH", path, {"description": "x"}), ("DELETE", path, None),
                                ("POST", f"{path}/credentials", {}), ("GET", f"/agentic/agents/{agent_id}", None),
                                ("GET", f"/agentic/agents/{agent_id}/instructions", None)):
        status, problem = await raw(cm, method, where, key, body)
        assert status == 404 and problem["status"] == 404, (method, where, problem)
    assert (await cm.read(intent["orderIntentId"]))["phase"] == "requires-verification"  # nothing changed
    assert (await raw(cm, "GET", path, key))[1]["status"] == "pending_verification"


async def test_a_refused_verification_answers_in_the_platform_s_words(cm):
    """verify/passkey before verify, and either once approved, are refused as for the platform's own
    instructions: the platform's wording and `status`, not the owner's order intent and phases."""
    intent, config = await intent_needing_verification(cm)
    key, agent_id, instruction_id = config["publicApiKey"], config["agentId"], config["instructionId"]
    path = f"/agentic/agents/{agent_id}/instructions/{instruction_id}"
    status, problem = await raw(cm, "POST", f"{path}/verify/passkey", key, {"assurance_data": {}})
    assert (status, problem["detail"]) == (422, "Start the instruction's verification (verify) before verify/passkey."), problem
    assert (await cm.read(intent["orderIntentId"]))["phase"] == "requires-verification"
    assert (await raw(cm, "POST", f"{path}/verify", key, {"device_context": DEVICE}))[0] == 200
    assert (await raw(cm, "POST", f"{path}/verify/passkey", key, {"assurance_data": {}}))[1]["status"] == "approved"
    for step, body, detail in (
        ("verify", {"device_context": DEVICE}, "The instruction is approved; only pending_verification ones are verified."),
        ("verify/passkey", {"assurance_data": {}}, "Start the instruction's verification (verify) before verify/passkey."),
    ):
        status, problem = await raw(cm, "POST", f"{path}/{step}", key, body)
        assert (status, problem["detail"]) == (422, detail), problem
        assert intent["orderIntentId"] not in str(problem) and "phase" not in str(problem)
    assert (await cm.read(intent["orderIntentId"]))["phase"] == "active"
