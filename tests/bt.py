"""Helpers for Basis Theory AI tests: minted JWTs and a thin client."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

PROJECT = "550e8400-e29b-41d4-a716-446655440000"
ENTITY = "user-12345"
SECRET = "sandbox-tests-do-not-check-this-signature-0123456789"


def token(iss: str = PROJECT, sub: str | None = ENTITY, roles: tuple[str, ...] = ("private",), **claims: Any) -> str:
    payload = {"iss": iss, "roles": list(roles), "iat": int(time.time()), "exp": int(time.time()) + 3600, **claims}
    if sub is not None:
        payload["sub"] = sub
    return jwt.encode(payload, SECRET, algorithm="HS256")


def card(number: str = "4000000000000002", month: str = "12", year: str = "2030", cvc: str = "123") -> dict[str, str]:
    return {"number": number, "expirationMonth": month, "expirationYear": year, "cvc": cvc}


class Bt:
    def __init__(self, client, project: str = PROJECT, entity: str = ENTITY) -> None:
        self.client = client
        self.project = project
        self.entity = entity
        self.jwt = token(project, entity)

    def path(self, rest: str) -> str:
        return f"/projects/{self.project}{rest}"

    async def request(self, method: str, rest: str, json: Any = None, *, jwt_token: str | None = None, headers=None, **kw):
        sent = {"Authorization": f"Bearer {jwt_token or self.jwt}", **(headers or {})}
        async with self.client.request(method, self.path(rest), json=json, headers=sent, **kw) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, body, resp.headers

    async def payment_method(self, number: str = "4000000000000002", **card_fields: str) -> dict[str, Any]:
        status, body, _ = await self.request("POST", "/payment-methods", {"entityId": self.entity, "card": card(number, **card_fields)})
        assert status == 201, body
        return body

    def intent_body(self, payment_method_id: str, **changes: Any) -> dict[str, Any]:
        body = {"entityId": self.entity, "credentialType": "virtual-card", "paymentMethodId": payment_method_id, "mandates": []}
        body.update(changes)
        return body

    async def intent(self, number: str = "4000000000000002", **changes: Any) -> dict[str, Any]:
        method = await self.payment_method(number)
        status, body, _ = await self.request("POST", "/purchase-intents", self.intent_body(method["id"], **changes))
        assert status == 201, body
        return body

    async def get(self, intent_id: str) -> dict[str, Any]:
        status, body, _ = await self.request("GET", f"/purchase-intents/{intent_id}")
        assert status == 200, body
        return body

    async def verify(self, intent_id: str, action: str, **payload: Any):
        body: dict[str, Any] = {"action": action}
        if payload:
            body["payload"] = payload
        return await self.request("POST", f"/purchase-intents/{intent_id}/verify", body)


@pytest.fixture
async def bt(make_api) -> Bt:
    api = await make_api()
    return Bt(api.client)
