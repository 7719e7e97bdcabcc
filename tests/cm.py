"""Helpers for Crossmint tests: a thin client with the project key and an optional user JWT."""

from __future__ import annotations

from typing import Any

import pytest

KEY = "sk_staging_demo"
MAX = {"type": "maxAmount", "value": "100.00", "details": {"currency": "usd", "period": "monthly"}}
MERCHANT = {"name": "Whole Foods", "url": "https://www.wholefoodsmarket.com", "countryCode": "US"}
# Gen-2 (the reference's bodies): an allowance of 25.00 USD on a registered card, and its merchant.
SHOP = {"name": "Example Shop", "url": "https://shop.example.com", "countryCode": "US"}
ALLOWANCE = {"amount": {"value": "25.00", "currency": "USD"}, "description": "Sneakers", "expiresAt": "2026-09-24T12:00:00.000Z"}


class Cm:
    def __init__(self, client, key: str = KEY, jwt: str | None = None, version: str = "unstable") -> None:
        self.client = client
        self.key = key
        self.jwt = jwt
        self.version = version

    def as_(self, **changes: Any) -> Cm:
        return Cm(self.client, **{"key": self.key, "jwt": self.jwt, "version": self.version, **changes})

    async def request(self, method: str, path: str, json: Any = None, **kw):
        headers = {"X-API-KEY": self.key} if self.key else {}
        if self.jwt:
            headers["Authorization"] = f"Bearer {self.jwt}"
        headers.update(kw.pop("headers", {}))
        async with self.client.request(method, f"/api/{self.version}{path}", json=json, headers=headers, **kw) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, body, resp.headers

    async def ok(self, method: str, path: str, json: Any = None, status: int = 200):
        got, body, _ = await self.request(method, path, json)
        assert got == status, body
        return body

    async def control(self, path: str, json: Any = None):
        async with self.client.post(path, json=json) as resp:
            return resp.status, await resp.json()

    async def agent(self, name: str = "Shopper") -> str:
        return (await self.ok("POST", "/agents", {"metadata": {"name": name}}, 201))["agentId"]

    async def payment_method(self, number: str = "4000000000000002", cvc: str | None = "123") -> str:
        card = {"number": number, "expiration": {"month": "12", "year": "2030"}, **({"cvc": cvc} if cvc else {})}
        return (await self.ok("POST", "/payment-methods", {"card": card}, 201))["paymentMethodId"]

    async def enrolled(self, number: str = "4000000000000002") -> str:
        """A payment method whose agentic enrollment is active."""
        method = await self.payment_method(number)
        enrollment = await self.ok("POST", f"/payment-methods/{method}/agentic-enrollment", {"email": "jane@example.com"}, 201)
        if enrollment["status"] == "pending":
            status, _ = await self.control(f"/_sandbox/crossmint/enrollments/{enrollment['enrollmentId']}/complete")
            assert status == 200
        return method

    async def intent(self, method: str | None = None, agent: str | None = None, **changes: Any) -> dict[str, Any]:
        body = {"agentId": agent or await self.agent(), "payment": {"paymentMethodId": method or await self.enrolled()}, "mandates": [MAX]}
        body.update(changes)
        return await self.ok("POST", "/order-intents", body, 201)

    async def read(self, intent_id: str) -> dict[str, Any]:
        return await self.ok("GET", f"/order-intents/{intent_id}")

    async def active_intent(self, **changes: Any) -> dict[str, Any]:
        intent = await self.intent(**changes)
        status, body = await self.control(f"/_sandbox/crossmint/order-intents/{intent['orderIntentId']}/verify")
        assert (status, body["phase"]) == (200, "active"), body
        return body

    async def credentials(self, intent_id: str, **body: Any):
        return await self.request("POST", f"/order-intents/{intent_id}/credentials", {"merchant": MERCHANT, **body})

    # -- Gen-2 ------------------------------------------------------------------------------

    async def registered(self, number: str = "4242424242424242", cvc: str | None = "123") -> str:
        """A payment method registered for Gen-2 order intents."""
        method = await self.payment_method(number, cvc)
        await self.ok("PUT", f"/payment-methods/{method}/order-intent-registration", {"email": "jane@example.com", "countryCode": "US"})
        return method

    async def allowance(self, method: str | None = None, **changes: Any) -> dict[str, Any]:
        """A Gen-2 order intent (25.00 USD at SHOP unless changed; a change to None leaves the field out)."""
        body = {"paymentMethodId": method or await self.registered(), **ALLOWANCE, "merchant": SHOP, **changes}
        return await self.ok("POST", "/order-intents", {k: v for k, v in body.items() if v is not None}, 201)

    async def mint(self, intent_id: str, body: dict[str, Any], **kw):
        return await self.request("POST", f"/order-intents/{intent_id}/credentials", body, **kw)

    async def event_list(self, object_id: str) -> list[dict[str, Any]]:
        async with self.client.get(f"/_sandbox/events?provider=crossmint&object_id={object_id}") as resp:
            return (await resp.json())["data"]

    async def events(self, object_id: str) -> list[str]:
        async with self.client.get(f"/_sandbox/events?provider=crossmint&object_id={object_id}") as resp:
            return [e["type"] for e in (await resp.json())["data"]]


@pytest.fixture
async def cm(make_api) -> Cm:
    return Cm((await make_api()).client)
