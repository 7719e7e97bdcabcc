"""The enrollment status `suspended` (issue 16): no API call leads there, so the control plane plays
the card network (`POST /_sandbox/basistheory/enrollments/{id}/suspend`, `/reinstate`); what a
suspended enrollment refuses, and that reinstating it brings everything back."""

from __future__ import annotations

from typing import Any

import pytest
from basis_theory import AsyncBasisTheory
from basis_theory.errors import ConflictError, UnprocessableEntityError

KEY = "key_test_suspended"
DEVICE = {"screen_height": 800, "screen_width": 1200, "user_agent_string": "Mozilla/5.0", "language_code": "en-US",
          "time_zone": "UTC", "java_script_enabled": True, "client_device_id": "d1", "client_reference_id": "r1",
          "platform_type": "WEB"}
MERCHANT = {"name": "Shop", "url": "https://shop.example.com", "country_code": "US"}
NO_RETRIES: Any = {"max_retries": 0}


class Platform:
    def __init__(self, client) -> None:
        self.client = client
        self.bt = AsyncBasisTheory(api_key=KEY, base_url=str(client.make_url("")).rstrip("/"), max_retries=0, timeout=10)

    async def control(self, path: str) -> tuple[int, Any]:
        async with self.client.post(path) as resp:
            return resp.status, await resp.json()

    async def network(self, enrollment_id: str, move: str) -> tuple[int, Any]:
        return await self.control(f"/_sandbox/basistheory/enrollments/{enrollment_id}/{move}")

    async def enrollment(self, number: str = "4000056655665556", verify: bool = True) -> Any:
        token = await self.bt.tokens.create(type="card", data={"number": number, "expiration_month": 12, "expiration_year": 2030})
        enrollment = await self.bt.agentic.enrollments.create(token_id=token.id, consumer={"email": "jane@example.com"})
        if verify:
            assert (await self.bt.agentic.enrollments.verify.start(enrollment.id, device_context=DEVICE)).status == "approved"
        return enrollment

    async def instruction(self, enrollment_id: str, agent_id: str | None = None) -> tuple[str, Any]:
        agent_id = agent_id or (await self.bt.agentic.agents.create(name="Shopper")).id
        instruction = await self.bt.agentic.agents.instructions.create(
            agent_id, enrollment_id=enrollment_id, amount={"value": "25.00", "currency": "USD"}, description="Groceries",
            expires_at="2026-06-01T00:00:00Z")
        return agent_id, instruction

    async def events(self, object_id: str) -> list[str]:
        async with self.client.get(f"/_sandbox/events?provider=btplatform&object_id={object_id}") as resp:
            return [e["type"] for e in (await resp.json())["data"]]


@pytest.fixture
async def bt(make_api) -> Platform:
    return Platform((await make_api()).client)


async def test_suspend_and_reinstate_through_the_machine_with_their_events(bt):
    enrollment = await bt.enrollment()
    status, suspended = await bt.network(enrollment.id, "suspend")
    assert (status, suspended["id"], suspended["status"]) == (200, enrollment.id, "suspended")
    assert (await bt.bt.agentic.enrollments.get(enrollment.id)).status == "suspended"
    assert [e.status async for e in await bt.bt.agentic.enrollments.list() if e.id == enrollment.id] == ["suspended"]
    status, reinstated = await bt.network(enrollment.id, "reinstate")
    assert (status, reinstated["status"]) == (200, "active")
    assert (await bt.bt.agentic.enrollments.get(enrollment.id)).status == "active"
    assert await bt.events(enrollment.id) == ["agentic.enrollment.created", "agentic.enrollment.verified",
                                              "agentic.enrollment.suspended", "agentic.enrollment.reinstated"]
    async with bt.client.get("/_sandbox/events?provider=btplatform&type=agentic.enrollment.suspended") as resp:
        (event,) = (await resp.json())["data"]
    assert event["payload"]["event"]["data"]["enrollment"]["status"] == "suspended"
    types = await bt.bt.webhooks.events.list()
    assert {"agentic.enrollment.suspended", "agentic.enrollment.reinstated"} <= set(types)


async def test_a_suspended_enrollment_refuses_instructions_their_verification_and_credentials(bt):
    enrollment = await bt.enrollment()
    agent_id, pending = await bt.instruction(enrollment.id)
    _, approved = await bt.instruction(enrollment.id, agent_id)
    assert (await bt.bt.agentic.agents.instructions.verify.start(agent_id, approved.id, device_context=DEVICE)).status == "verified"
    assert (await bt.network(enrollment.id, "suspend"))[0] == 200

    with pytest.raises(UnprocessableEntityError) as refused:
        await bt.instruction(enrollment.id, agent_id)
    assert refused.value.body.detail == "The enrollment is suspended; instructions need an active one."
    with pytest.raises(UnprocessableEntityError) as refused:
        await bt.bt.agentic.agents.instructions.verify.start(agent_id, pending.id, device_context=DEVICE, request_options=NO_RETRIES)
    assert "suspended" in refused.value.body.detail
    with pytest.raises(UnprocessableEntityError) as refused:
        await bt.bt.agentic.agents.instructions.credentials.create(agent_id, approved.id, merchant=MERCHANT, request_options=NO_RETRIES)
    assert refused.value.body.detail == "The enrollment is suspended; credentials need an active one."
    with pytest.raises(ConflictError):
        await bt.bt.agentic.enrollments.verify.start(enrollment.id, device_context=DEVICE, request_options=NO_RETRIES)
    with pytest.raises(UnprocessableEntityError):
        await bt.bt.agentic.enrollments.retry(enrollment.id, request_options=NO_RETRIES)
    # Nothing moved: the instructions keep their statuses, and nothing was created.
    assert (await bt.bt.agentic.agents.instructions.get(agent_id, pending.id)).status == "pending_verification"
    assert (await bt.bt.agentic.agents.instructions.get(agent_id, approved.id)).status == "approved"
    assert len([i async for i in await bt.bt.agentic.agents.instructions.list(agent_id)]) == 2

    assert (await bt.network(enrollment.id, "reinstate"))[0] == 200
    credentials = await bt.bt.agentic.agents.instructions.credentials.create(agent_id, approved.id, merchant=MERCHANT)
    assert credentials.card.number == "4000001000005556"
    assert (await bt.bt.agentic.agents.instructions.verify.start(agent_id, pending.id, device_context=DEVICE)).status == "verified"


@pytest.mark.parametrize(("number", "verify", "move", "status"), [
    ("4000000000000002", False, "suspend", "pending_verification"),  # only an active one is suspended
    ("4000000000000341", False, "suspend", "failed"),
    ("4000056655665556", True, "reinstate", "active"),  # only a suspended one is reinstated
])
async def test_the_network_moves_only_from_their_status(bt, number, verify, move, status):
    enrollment = await bt.enrollment(number, verify=verify)
    code, problem = await bt.network(enrollment.id, move)
    assert code == 409 and status in problem["error"]["message"], problem
    assert (await bt.bt.agentic.enrollments.get(enrollment.id)).status == status
    assert "agentic.enrollment.suspended" not in await bt.events(enrollment.id)


async def test_suspending_twice_and_unknown_enrollments(bt):
    enrollment = await bt.enrollment()
    assert (await bt.network(enrollment.id, "suspend"))[0] == 200
    code, problem = await bt.network(enrollment.id, "suspend")
    assert code == 409 and problem["error"]["message"] == "Only active enrollments can be suspended; this one is suspended."
    assert (await bt.network("00000000-0000-4000-8000-000000000000", "suspend"))[0] == 404


async def test_a_suspended_enrollment_can_be_deleted(bt):
    enrollment = await bt.enrollment()
    await bt.network(enrollment.id, "suspend")
    await bt.bt.agentic.enrollments.delete(enrollment.id)
    assert (await bt.bt.agentic.enrollments.get(enrollment.id)).status == "deleted"
    assert (await bt.network(enrollment.id, "reinstate"))[0] == 409


async def test_a_verification_started_before_the_suspension_is_finished_only_after_reinstating(bt):
    enrollment = await bt.enrollment("4000002760003184", verify=False)  # its instructions need a passkey
    assert (await bt.bt.agentic.enrollments.verify.start(enrollment.id, device_context=DEVICE)).status == "passkey_required"
    assert (await bt.bt.agentic.enrollments.verify.complete(enrollment.id)).status == "verified"
    agent_id, instruction = await bt.instruction(enrollment.id)
    started = await bt.bt.agentic.agents.instructions.verify.start(agent_id, instruction.id, device_context=DEVICE)
    assert started.status == "passkey_required"
    assert (await bt.network(enrollment.id, "suspend"))[0] == 200
    with pytest.raises(UnprocessableEntityError) as refused:
        await bt.bt.agentic.agents.instructions.verify.passkey(agent_id, instruction.id, assurance_data={}, request_options=NO_RETRIES)
    assert refused.value.body.detail == "The enrollment is suspended; verifying an instruction needs an active one."
    assert (await bt.bt.agentic.agents.instructions.get(agent_id, instruction.id)).status == "pending_verification"
    assert (await bt.network(enrollment.id, "reinstate"))[0] == 200
    approved = await bt.bt.agentic.agents.instructions.verify.passkey(agent_id, instruction.id, assurance_data={})
    assert approved.status == "approved"
