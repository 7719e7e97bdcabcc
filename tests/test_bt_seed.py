"""The Basis Theory AI seed's curl example (seed 002, docs/research/seeds.md), sent as written."""

from tests.bt import ENTITY, PROJECT, Bt

# The -d body of the seed, verbatim. It has one closing brace too many.
SEED_BODY = '''{
"entityId": "user-12345",
"credentialType": "virtual-card",
"paymentMethodId": "26859380-7829-4ee1-8a0a-38927881e7ef",
"mandates": [
{
"type": "maxAmount",
"value": "100.00",
"details": {
"currency": "840",
"period": "transaction"
}
},
{
"type": "expirationTime",
"value": "2024-12-31T23:59:59Z",
"details": {
"timezone": "UTC",
"autoRenew": false
}
},
{
"type": "consumer",
"value": "user-12345",
"details": {
"email": "user@example.com",
"name": "Dexter Morgan",
"address": {
"line1": "123 Main St",
"line2": "Apt 4B",
"line3": "",
"city": "New York",
"postalCode": "10001",
"stateCode": "NY",
"countryCode": "US"
}
}
}
}
]
}'''
FIXED_BODY = SEED_BODY.replace("}\n}\n}\n}\n]", "}\n}\n}\n]")


async def post(bt, body: str, path="/purchase-intent"):
    return await bt.request("POST", path, headers={"Content-Type": "application/json"}, data=body.encode())


async def test_the_verbatim_body_is_refused_as_invalid_json(bt):
    status, body, _ = await post(bt, SEED_BODY)
    assert status == 400
    assert body["error"]["type"] == "bad_request"
    assert "not valid JSON" in body["error"]["message"] and "line 39" in body["error"]["message"]


async def test_with_the_brace_fixed_the_unknown_payment_method_is_named(bt):
    status, body, _ = await post(bt, FIXED_BODY)
    assert status == 400
    assert body["error"] == {
        "status": 400, "type": "validation_error", "title": "Validation failed",
        "message": "The request contained invalid data.",
        "details": {"fields": {"paymentMethodId": "Payment method not found for this project and entity."}},
    }


async def test_with_a_real_payment_method_the_seed_body_creates_an_intent(bt):
    method = await bt.payment_method("4000000000000002")
    status, body, _ = await post(bt, FIXED_BODY.replace("26859380-7829-4ee1-8a0a-38927881e7ef", method["id"]))
    assert status == 201
    assert set(body) == {"id", "entityId", "credentialType", "status", "createdAt", "expiresAt", "paymentMethodId", "projectId", "mandates"}
    assert body["entityId"] == ENTITY and body["projectId"] == PROJECT
    assert body["credentialType"] == "virtual-card" and body["status"] == "verify"
    assert body["createdAt"] == "2026-01-01T00:00:00Z"
    assert body["expiresAt"] == "2026-01-02T00:00:00Z"  # the past expirationTime does not shorten it
    assert [m["type"] for m in body["mandates"]] == ["maxAmount", "expirationTime", "consumer"]
    assert body["mandates"][2]["details"]["address"]["line2"] == "Apt 4B"
    assert "card" not in body


async def test_the_documented_objects_repeat_on_seed_7(bt):
    """docs/basistheory.md shows the README walk-through's payment method and intent as a server
    started with `--seed 7 --clock 2026-01-01T00:00:00Z` gives them: the same bytes here."""
    walk = Bt(bt.client, project="proj_demo", entity=ENTITY)
    method = await walk.payment_method("4000000000000002")
    assert method == {
        "id": "f8bdc0e3-f0c1-4d87-9a82-fb107a4662e7", "type": "card", "entityId": "user-12345",
        "card": {"brand": "visa", "type": "credit",
                 "details": {"bin": "400000", "last4": "0002", "expirationMonth": "12", "expirationYear": "2030"}},
        "credentialTypes": ["virtual-card"], "createdAt": "2026-01-01T00:00:00Z",
    }
    mandates = [{"type": "maxAmount", "value": "100.00", "details": {"currency": "840", "period": "transaction"}}]
    status, intent, _ = await walk.request("POST", "/purchase-intents", walk.intent_body(method["id"], mandates=mandates))
    assert (status, intent["status"]) == (201, "verify"), intent
    for action, payload in (("START", {}), ("SELECT_OTP", {"methodId": "otp-sms"}), ("VALIDATE_OTP", {"otpCode": "123456"}),
                            ("AUTHENTICATE_PASSKEY", {})):
        status, answer, _ = await walk.verify(intent["id"], action, **payload)
        assert status == 200, answer
    assert answer["status"] == "VERIFIED"
    assert await walk.get(intent["id"]) == {
        "id": "649c4c8c-1929-4643-84fd-bd7a9946ae00", "entityId": "user-12345", "credentialType": "virtual-card",
        "status": "active", "createdAt": "2026-01-01T00:00:00Z", "expiresAt": "2026-01-02T00:00:00Z",
        "paymentMethodId": "f8bdc0e3-f0c1-4d87-9a82-fb107a4662e7", "projectId": "proj_demo",
        "mandates": mandates,
        "card": {"number": "4857010077027055", "expirationMonth": "01", "expirationYear": "2029", "cvc": "485"},
    }
