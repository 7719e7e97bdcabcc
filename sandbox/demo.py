"""The demo fill's plan: what `sandbox serve --demo` and `POST /_sandbox/demo` send (docs/dashboard.md).

A face module: it knows every provider, and sends each the requests a client of its real API
would, with names, addresses, merchants and amounts from Faker (seeded by the control plane's
runner, `sandbox/control/demo.py`). Each tenant ends with objects in the states worth a look:
approved, declined, waiting for a person (an approval, a cardholder's verification, a 3-D Secure
challenge), completed, with credentials issued, and webhooks attempted with their signed headers.

Webhooks go to 127.0.0.1 port 9 (discard), which refuses at once: nothing leaves the machine, and
each attempt shows what was sent and why it failed.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from sandbox.config import Settings
from sandbox.control.demo import DemoRun, Plan
from sandbox.core.clock import iso, parse_instant

RECEIVER = "http://127.0.0.1:9/webhooks/{name}"  # the discard port: refused at once, and never leaves this machine

DEVICE = {
    "screen_height": 900, "screen_width": 1440, "user_agent_string": "Mozilla/5.0 (demo)", "language_code": "en-US", "time_zone": "UTC",
    "java_script_enabled": True, "client_device_id": "demo-device", "client_reference_id": "demo", "platform_type": "WEB",
}


def plan(settings: Settings) -> Plan:
    threshold = settings.dino_approval_threshold_cents

    async def fill(run: DemoRun) -> None:
        clock = await run.step(run.call("GET", "/_sandbox/clock"))
        now = iso(parse_instant(clock["now"])) if clock else None
        for index in range(2):
            await dino(run, threshold, full=index == 0)
        for index in range(2):
            await crossmint(run, full=index == 0)
        await basistheory(run)
        await btplatform(run, now)

    return fill


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "demo"


def _cents(run: DemoRun, low: int, high: int) -> int:
    return run.fake.random_int(low // 100, high // 100) * 100 + run.fake.random_int(0, 99)


def _merchant(run: DemoRun) -> tuple[str, str]:
    """A merchant's name and its host."""
    name = run.fake.company()
    return name, f"{slug(name)}.example"


def _product(run: DemoRun) -> str:
    return run.fake.catch_phrase().lower()


# -- Dino ---------------------------------------------------------------------------------------


async def dino(run: DemoRun, threshold: int, *, full: bool) -> None:
    fake = run.fake
    key = f"din_test_{slug(fake.company())}"
    auth = {"Authorization": f"Bearer {key}"}
    if full:
        await run.step(run.call("POST", "/_sandbox/webhook-endpoints", {
            "provider": "dino", "tenant": key, "url": RECEIVER.format(name="dino"),
            "description": "demo: nothing listens on port 9, so every attempt fails and is retried",
        }))

    def intent(max_total: int, url_marker: str = "") -> dict[str, Any]:
        _, host = _merchant(run)
        first, last = fake.first_name(), fake.last_name()
        return {
            "product_url": f"https://{host}/products/{slug(_product(run))}{url_marker}",
            "quantity": fake.random_int(1, 3), "currency": "usd", "max_total_cents": max_total,
            "buyer": {
                "first_name": first, "last_name": last, "email": f"{slug(first)}.{slug(last)}@example.com",
                "phone": fake.numerify("+1555#######"), "address1": fake.street_address()[:500], "city": fake.city()[:500],
                "postal_code": fake.postcode()[:20], "country": "US",
            },
            "metadata": {"order_ref": fake.bothify("ORD-####-????").upper()},
        }

    async def create(max_total: int) -> str:
        return (await run.call("POST", "/v1/purchase-intents", intent(max_total), headers=auth))["id"]

    async def authorize(intent_id: str, **body: Any) -> dict[str, Any]:
        return await run.call("POST", f"/v1/purchase-intents/{intent_id}/authorize", body, headers=auth)

    async def bought() -> None:  # approved, credential issued, checkout completed
        total = _cents(run, 1500, 25000)
        intent_id = await create(total + 500)
        _, host = _merchant(run)
        await authorize(intent_id, expected_total_cents=total, merchant_name=host, reason="Weekly groceries")
        await run.call("POST", f"/v1/purchase-intents/{intent_id}/issue-payment-credential", {"merchant_lock": host}, headers=auth)
        await run.call("POST", f"/_sandbox/dino/purchase-intents/{intent_id}/execute", {"merchant": host, "amount_cents": total})

    async def issued() -> None:  # approved, credential issued, not used yet
        total = _cents(run, 1000, 9000)
        intent_id = await create(total)
        await authorize(intent_id, expected_total_cents=total, reason="A gift")
        await run.call("POST", f"/v1/purchase-intents/{intent_id}/issue-payment-credential", {}, headers=auth)

    async def declined() -> None:  # the expected total is above the intent's maximum
        total = _cents(run, 2000, 8000)
        intent_id = await create(total)
        await authorize(intent_id, expected_total_cents=total + 2500, reason="Price went up at checkout")

    async def waiting() -> None:  # above the approval threshold: waits for a person (its approval_url)
        await authorize(await create(threshold + _cents(run, 1000, 150000)), reason="A new laptop")

    async def approved_by_operator() -> None:
        intent_id = await create(threshold + _cents(run, 1000, 50000))
        await authorize(intent_id, reason="Conference travel")
        await run.call("POST", f"/_sandbox/dino/purchase-intents/{intent_id}/approve", {"reason": "Approved by the finance team"})

    steps = [bought, issued, declined, waiting, approved_by_operator, lambda: create(_cents(run, 500, 5000))]
    for step in steps if full else steps[:4]:
        await run.step(step())


# -- Crossmint ----------------------------------------------------------------------------------


async def crossmint(run: DemoRun, *, full: bool) -> None:
    fake = run.fake
    headers = {"X-API-KEY": f"sk_staging_{slug(fake.company())}"}
    base = "/api/unstable"

    async def agent() -> str:
        name = f"{fake.first_name()}'s shopping agent"
        return (await run.call("POST", base + "/agents", {"metadata": {"name": name}}, headers=headers))["agentId"]

    async def card(number: str) -> str:
        body = {"card": {"number": number, "expiration": {"month": f"{fake.random_int(1, 12):02d}", "year": "2031"}, "cvc": "123"}}
        method = (await run.call("POST", base + "/payment-methods", body, headers=headers))["paymentMethodId"]
        email = f"{slug(fake.first_name())}@example.com"
        await run.call("POST", f"{base}/payment-methods/{method}/agentic-enrollment", {"email": email}, headers=headers)
        return method

    def mandates(limit: int) -> list[dict[str, Any]]:
        return [{"type": "maxAmount", "value": f"{limit}.00", "details": {"currency": "usd", "period": "monthly"}}]

    async def order(agent_id: str, method: str, limit: int) -> dict[str, Any]:
        body = {"agentId": agent_id, "payment": {"paymentMethodId": method}, "mandates": mandates(limit)}
        return await run.call("POST", base + "/order-intents", body, headers=headers)

    async def shopping() -> None:
        agent_id = await agent()
        ready = await card("4242424242424242")  # enrolled at once, needs no verification
        active = await order(agent_id, ready, fake.random_int(100, 400))
        name, host = _merchant(run)
        products = [{"name": _product(run), "price": round(fake.random_int(199, 4999) / 100, 2), "quantity": 1}]
        body = {"merchant": {"name": name, "url": f"https://{host}", "countryCode": "US"}, "products": products}
        await run.call("POST", f"{base}/order-intents/{active['orderIntentId']}/credentials", body, headers=headers)
        await order(agent_id, ready, fake.random_int(50, 150))

    async def verifying() -> None:
        agent_id = await agent()
        await order(agent_id, await card("4000056655665556"), fake.random_int(100, 300))  # the cardholder must verify
        await order(agent_id, await card("4000000000000002"), fake.random_int(100, 300))  # its enrollment is still pending

    await run.step(shopping())
    if full:
        await run.step(verifying())


# -- Basis Theory AI ------------------------------------------------------------------------------


async def basistheory(run: DemoRun) -> None:
    import jwt  # PyJWT and cryptography (~25 ms to import): paid by the first fill, not by every start

    fake = run.fake
    project = fake.uuid4()
    for _ in range(2):
        entity = f"user-{fake.numerify('#####')}"
        claims = {"iss": project, "sub": entity, "roles": ["private"], "iat": int(time.time()), "exp": int(time.time()) + 3600}
        # The sandbox checks no signature unless told to (--bt-jwks): any key signs a demo token.
        headers = {"Authorization": "Bearer " + jwt.encode(claims, "sandbox-demo-" + "0" * 32, algorithm="HS256")}
        base = f"/projects/{project}"

        async def purchase(number: str, verify: bool = False, *, entity: str = entity, headers: dict[str, str] = headers,
                           base: str = base) -> None:
            card = {"number": number, "expirationMonth": f"{fake.random_int(1, 12):02d}", "expirationYear": "2031", "cvc": "123"}
            method = await run.call("POST", base + "/payment-methods", {"entityId": entity, "card": card}, headers=headers)
            name, _ = _merchant(run)
            mandates = [
                {"type": "maxAmount", "value": f"{fake.random_int(20, 500)}.00", "details": {"currency": "840", "period": "transaction"}},
                {"type": "merchant", "value": name},
                {"type": "description", "value": _product(run)},
            ]
            body = {"entityId": entity, "credentialType": "virtual-card", "paymentMethodId": method["id"], "mandates": mandates}
            intent = await run.call("POST", base + "/purchase-intents", body, headers=headers)
            if verify:
                await run.call("POST", f"{base}/purchase-intents/{intent['id']}/verify", {"action": "START"}, headers=headers)

        await run.step(purchase("4000056655665556", verify=True))  # verified at once (frictionless): active
        await run.step(purchase("4000000000000002"))  # waits for the cardholder's OTP and passkey
        await run.step(purchase("371449635398431"))  # no 3-D Secure: active at once
        await run.step(purchase("378282246310005"))  # pending, active 60 s later on the sandbox clock


# -- Basis Theory platform ----------------------------------------------------------------------


async def btplatform(run: DemoRun, now: str | None) -> None:
    fake = run.fake
    headers = {"BT-API-KEY": f"key_test_{slug(fake.company())}"}

    async def call(method: str, path: str, body: Any = None) -> Any:
        return await run.call(method, path, body, headers=headers)

    async def token(number: str) -> str:
        data = {"number": number, "expiration_month": fake.random_int(1, 12), "expiration_year": 2031, "cvc": "123"}
        return (await call("POST", "/tokens", {"type": "card", "data": data}))["id"]

    await run.step(call("POST", "/webhooks", {
        "name": "Demo receiver (nothing listens on port 9)", "url": RECEIVER.format(name="btplatform"),
        "events": ["token.created", "agentic.enrollment.created", "agentic.instruction.approved", "3ds.session.authenticated"],
    }))

    async def agentic() -> None:
        card = await token("4000056655665556")  # enrolls without a passkey
        email = f"{slug(fake.first_name())}@example.com"
        enrollment = await call("POST", "/agentic/enrollments", {"token_id": card, "consumer": {"email": email}})
        await call("POST", f"/agentic/enrollments/{enrollment['id']}/verify", {"device_context": DEVICE})
        agent = await call("POST", "/agentic/agents", {"name": f"{fake.first_name()}'s travel agent", "enrollment_ids": [enrollment["id"]]})
        if now is None:
            return
        expires = iso(parse_instant(now) + timedelta(days=30))
        amount = {"value": f"{fake.random_int(20, 200)}.00", "currency": "USD"}
        path = f"/agentic/agents/{agent['id']}/instructions"
        instruction = await call("POST", path, {"enrollment_id": enrollment["id"], "amount": amount,
                                                "description": _product(run), "expires_at": expires})
        await call("POST", f"{path}/{instruction['id']}/verify", {"device_context": DEVICE})
        name, host = _merchant(run)
        merchant = {"name": name, "url": f"https://{host}", "country_code": "US"}
        await call("POST", f"{path}/{instruction['id']}/credentials", {"merchant": merchant})

    async def waiting_enrollment() -> None:  # waits for the cardholder's one-time code
        email = f"{slug(fake.first_name())}@example.com"
        await call("POST", "/agentic/enrollments", {"token_id": await token("4242424242424242"), "consumer": {"email": email}})

    async def three_ds(number: str) -> None:
        session = await call("POST", "/3ds/sessions", {"token_id": await token(number), "type": "customer", "device": "browser"})
        body = {"authentication_category": "payment", "authentication_type": "payment-transaction"}
        await call("POST", f"/3ds/sessions/{session['id']}/authenticate", body)

    await run.step(agentic())
    await run.step(waiting_enrollment())
    await run.step(three_ds("4111111111111111"))  # authenticated at once
    await run.step(three_ds("4000000000003220"))  # a challenge for the cardholder (its acs_challenge_url)
