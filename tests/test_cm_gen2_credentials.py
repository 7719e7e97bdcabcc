"""Crossmint Gen-2 credentials: the body picks a rail (agentic-token, encrypted-card, spt), the
allowance's rules decide, and credentials move the balances (reserved, then spent or released)."""

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwe
from joserfc.errors import DecodeError
from joserfc.jwk import RSAKey
from sandbox.core.cards import luhn_ok

from tests.cm import MERCHANT, SHOP, Cm

USD = {"value": "10.00", "currency": "USD"}
AGENTIC = {"rail": "agentic-token", "provider": "vic", "amount": USD, "credential": {"format": "card"}}
SPT = {"rail": "spt", "provider": "stripe", "amount": USD,
       "credential": {"format": "identifier", "payload": {"networkBusinessProfile": "nbp_1"}}}
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(key=KEY) -> dict:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e)}


def encrypted(public_key: dict | None = None) -> dict:
    return {"rail": "encrypted-card", "credential": {"format": "card", "publicKey": public_key or jwk()}}


def decrypt(compact: str, key=KEY) -> tuple[dict, dict]:
    """Opened by joserfc, an independent JOSE implementation (RSA-OAEP-256 and A256GCM are not in
    its default set, so they are named)."""
    opened = jwe.decrypt_compact(compact, RSAKey.import_key(key), algorithms=["RSA-OAEP-256", "A256GCM"])
    return dict(opened.protected), json.loads(opened.plaintext or b"")


async def balances(cm, oid: str) -> dict:
    return (await cm.read(oid))["amount"]


async def test_agentic_token_mints_a_card_and_reserves_its_amount(cm):
    intent = await cm.allowance()
    oid = intent["orderIntentId"]
    status, body, _ = await cm.mint(oid, AGENTIC)
    assert status == 201, body
    assert list(body) == ["id", "rail", "provider", "amount", "credential", "expiresAt"]
    assert (body["rail"], body["provider"], body["amount"]) == ("agentic-token", "vic", USD)
    card = body["credential"]["value"]
    assert body["credential"]["format"] == "card" and set(card) == {"number", "expirationMonth", "expirationYear", "cvc"}
    assert card["number"].startswith("4") and len(card["number"]) == 16 and luhn_ok(card["number"])
    assert (card["expirationMonth"], card["expirationYear"]) == ("01", "2029")
    assert body["expiresAt"] == "2026-01-01T00:30:00.000Z"
    assert await balances(cm, oid) == {"total": "25.00", "spent": "0.00", "reserved": "10.00", "available": "15.00", "currency": "USD"}
    events = await cm.event_list(oid)
    assert events[-1]["type"] == "order-intents.credentials-issued"
    assert events[-1]["payload"]["payload"] == {"orderIntentId": oid, "credentialId": body["id"], "rail": "agentic-token",
                                                "provider": "vic", "amount": USD}
    await cm.control("/_sandbox/clock/advance", {"seconds": 1800})  # the credential lapses: the sandbox counts it spent
    assert await balances(cm, oid) == {"total": "25.00", "spent": "10.00", "reserved": "0.00", "available": "15.00", "currency": "USD"}


async def test_encrypted_card_is_a_jwe_of_the_saved_card_for_the_clients_key(cm):
    intent = await cm.allowance()  # 4242424242424242, 12/2030
    status, body, _ = await cm.mint(intent["orderIntentId"], encrypted())
    assert status == 201, body
    assert (body["rail"], body["amount"]) == ("encrypted-card", {"value": "25.00", "currency": "USD"})  # no amount: all available
    assert "provider" not in body and body["credential"]["format"] == "card"
    header, card = decrypt(body["credential"]["value"])
    assert header == {"alg": "RSA-OAEP-256", "enc": "A256GCM"}
    assert set(card) == {"number", "expirationMonth", "expirationYear", "cvc"}
    assert card["number"][:6] == "424242" and card["number"][-4:] == "4242" and luhn_ok(card["number"])
    assert (card["expirationMonth"], card["expirationYear"]) == ("12", "2030") and len(card["cvc"]) == 3
    with pytest.raises((ValueError, DecodeError)):  # another key cannot open it
        decrypt(body["credential"]["value"], rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert (await balances(cm, intent["orderIntentId"]))["available"] == "0.00"


async def test_a_browser_style_jwk_with_kid_is_accepted_and_the_kid_is_echoed(cm):
    intent = await cm.allowance()
    key = {**jwk(), "alg": "RSA-OAEP-256", "ext": True, "key_ops": ["encrypt"], "kid": "k1"}
    status, body, _ = await cm.mint(intent["orderIntentId"], {**encrypted(key), "amount": USD})
    assert status == 201
    assert decrypt(body["credential"]["value"])[0] == {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "k1"}


async def test_spt_mints_a_shared_payment_token(cm):
    intent = await cm.allowance()
    status, body, _ = await cm.mint(intent["orderIntentId"], SPT)
    assert status == 201
    assert (body["rail"], body["provider"], body["credential"]["format"]) == ("spt", "stripe", "identifier")
    assert body["credential"]["value"].startswith("spt_") and len(body["credential"]["value"]) == 28


@pytest.mark.parametrize("body, field", [
    ({**AGENTIC, "rail": "bank"}, "rail"),
    ({**AGENTIC, "credential": {"format": "identifier"}}, "credential.format"),
    ({**AGENTIC, "amount": {"value": "-1", "currency": "USD"}}, "amount.value"),
    ({**AGENTIC, "provider": "stripe"}, "provider"),
    ({**SPT, "credential": {"format": "identifier"}}, "credential.payload"),
    (encrypted({**jwk(), "d": "AQAB"}), "credential.publicKey"),
    (encrypted({"kty": "RSA", "n": b64(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers().n),
                "e": "AQAB"}), "credential.publicKey"),
    (encrypted({"kty": "RSA", "n": "not base64!", "e": "AQAB"}), "credential.publicKey"),
    (encrypted({"kty": "EC", "n": "x", "e": "AQAB"}), "credential.publicKey.kty"),
    ({**encrypted(), "extra": 1}, "extra"),
])
async def test_gen2_credential_bodies_are_validated(cm, body, field):
    intent = await cm.allowance()
    status, resp, _ = await cm.mint(intent["orderIntentId"], body)
    assert status == 400 and any(m.startswith(field + " ") for m in resp["message"]), resp
    assert (await balances(cm, intent["orderIntentId"]))["reserved"] == "0.00"


async def test_the_jwk_messages_say_what_is_wrong(cm):
    intent = await cm.allowance()
    _, resp, _ = await cm.mint(intent["orderIntentId"], encrypted({**jwk(), "d": "AQAB"}))
    assert resp["message"] == ["credential.publicKey must be a public key: private members (d, p, q, dp, dq, qi) are refused"]
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    _, resp, _ = await cm.mint(intent["orderIntentId"], encrypted(jwk(small)))
    assert resp["message"] == ["credential.publicKey the modulus must be 2048 to 8192 bits, not 1024"]


async def mint_after(cm, refused: dict | None) -> tuple[dict, list[str]]:
    """An allowance, then (maybe) a refused credential body, then a good encrypted-card credential."""
    oid = (await cm.allowance())["orderIntentId"]
    if refused is not None:
        status, resp, _ = await cm.mint(oid, refused)
        assert status == 400 and resp["message"] == ["credential.publicKey the modulus n must be odd: it is no RSA modulus"], resp
        assert resp["error"] == "Bad Request" and resp["statusCode"] == 400
        assert (await balances(cm, oid))["reserved"] == "0.00"
        assert "order-intents.credentials-issued" not in await cm.events(oid)
    status, body, _ = await cm.mint(oid, {**encrypted(), "amount": USD})
    assert status == 201, body
    # RSA-OAEP pads with fresh random bytes, so the wrapped key differs from run to run; the rest
    # (header, IV, ciphertext, tag) comes from the seed's content key and IV.
    parts = body["credential"].pop("value").split(".")
    return body, [parts[0], *parts[2:]]


@pytest.mark.parametrize("n", [
    KEY.public_key().public_numbers().n + 1,  # a 2048-bit even number
    2 ** 8191,  # the largest size allowed, and even
], ids=["2048-bit", "8192-bit"])
async def test_an_even_modulus_is_refused_and_draws_no_id(make_api, n):
    """OpenSSL cannot encrypt to an even modulus: it is refused as a 400 naming the key, and the next
    good credential is the one a server that never saw the bad key would issue."""
    refused = await mint_after(Cm((await make_api(seed=3)).client), encrypted({"kty": "RSA", "n": b64(n), "e": "AQAB"}))
    clean = await mint_after(Cm((await make_api(seed=3)).client), None)
    assert refused == clean


async def test_a_pending_verification_rail_cannot_mint_until_verified(cm):
    intent = await cm.allowance(await cm.registered("4000000000000002"))
    oid = intent["orderIntentId"]
    status, body, _ = await cm.mint(oid, AGENTIC)
    assert status == 409 and body["code"] == "ORDER_INTENT_VERIFICATION_REQUIRED" and body["railStatus"] == "pending_verification"
    assert (await cm.mint(oid, SPT))[0] == 201  # the other rails serve meanwhile
    await cm.control(f"/_sandbox/crossmint/order-intents/{oid}/verify")
    assert (await cm.mint(oid, AGENTIC))[0] == 201


async def test_cvc_recollection_gates_the_encrypted_card_rail(cm):
    method = await cm.registered("4242424242424242", cvc=None)
    intent = await cm.allowance(method)
    oid = intent["orderIntentId"]
    status, body, _ = await cm.mint(oid, encrypted())
    assert status == 409 and body["code"] == "ORDER_INTENT_CVC_RECOLLECTION_REQUIRED"
    assert body["message"] == "the encrypted-card rail is pending_cvc_recollection: the card's CVC must be collected again"
    assert await cm.control(f"/_sandbox/crossmint/payment-methods/{method}/cvc", {"outcome": "recollected"}) == (
        200, {"paymentMethodId": method, "cvc": "on_file"})
    assert (await cm.read(oid))["rails"][1]["status"] == "active"
    assert (await cm.mint(oid, {**encrypted(), "amount": USD}))[0] == 201
    await cm.control(f"/_sandbox/crossmint/payment-methods/{method}/cvc", {"outcome": "expired"})
    assert (await cm.read(oid))["rails"][1]["status"] == "pending_cvc_recollection"
    assert (await cm.mint(oid, encrypted()))[1]["code"] == "ORDER_INTENT_CVC_RECOLLECTION_REQUIRED"
    assert (await cm.control("/_sandbox/crossmint/payment-methods/pm_nope/cvc", {"outcome": "expired"}))[0] == 404


async def test_an_error_rail_cannot_mint_but_the_others_can(cm):
    intent = await cm.allowance(await cm.registered("5186160000000001"))
    status, body, _ = await cm.mint(intent["orderIntentId"], {**AGENTIC, "provider": "agentpay"})
    assert status == 409 and body["code"] == "ORDER_INTENT_RAIL_ERROR" and body["railError"] == {"code": "CARD_NOT_ELIGIBLE"}
    status, body, _ = await cm.mint(intent["orderIntentId"], {**encrypted(), "amount": USD})
    assert status == 201 and decrypt(body["credential"]["value"])[1]["number"].startswith("518616")


async def test_a_rail_the_intent_lacks_is_409(cm):
    intent = await cm.allowance()  # vic
    status, body, _ = await cm.mint(intent["orderIntentId"], {**AGENTIC, "provider": "agentpay"})
    assert status == 409 and body["code"] == "ORDER_INTENT_RAIL_UNAVAILABLE"
    assert body["message"] == f"order intent {intent['orderIntentId']} has no agentic-token (provider agentpay) rail"
    amex = await cm.allowance(await cm.registered("378282246310005"))
    assert (await cm.mint(amex["orderIntentId"], AGENTIC))[1]["code"] == "ORDER_INTENT_RAIL_UNAVAILABLE"
    status, body, _ = await cm.mint(amex["orderIntentId"], encrypted())
    card = decrypt(body["credential"]["value"])[1]
    assert len(card["number"]) == 15 and card["number"].endswith("0005") and len(card["cvc"]) == 4


async def test_amount_currency_and_merchant_must_fit_the_allowance(cm):
    oid = (await cm.allowance())["orderIntentId"]
    status, body, _ = await cm.mint(oid, {**AGENTIC, "amount": {"value": "25.01", "currency": "USD"}})
    assert status == 422 and body["code"] == "ORDER_INTENT_INSUFFICIENT_AMOUNT"
    assert (body["available"], body["amount"]) == ("25.00", "25.01")
    status, body, _ = await cm.mint(oid, {**AGENTIC, "amount": {"value": "10.00", "currency": "EUR"}})
    assert status == 422 and body["code"] == "ORDER_INTENT_CURRENCY_MISMATCH"
    status, body, _ = await cm.mint(oid, {**AGENTIC, "merchant": MERCHANT})
    assert status == 422 and body["code"] == "ORDER_INTENT_MERCHANT_MISMATCH" and body["merchant"] == SHOP
    assert (await cm.mint(oid, {**AGENTIC, "merchant": SHOP}))[0] == 201  # the same merchant is fine
    assert (await balances(cm, oid))["reserved"] == "10.00"


async def test_an_allowance_without_merchant_needs_one_per_credential(cm):
    oid = (await cm.allowance(merchant=None))["orderIntentId"]
    status, body, _ = await cm.mint(oid, AGENTIC)
    assert status == 400 and body["message"] == ["merchant is required: the order intent names no merchant"]
    status, _, _ = await cm.mint(oid, {**AGENTIC, "merchant": MERCHANT})
    assert status == 201
    assert (await cm.event_list(oid))[-1]["payload"]["payload"]["merchant"] == MERCHANT


async def test_spending_it_all_expires_the_allowance(cm):
    oid = (await cm.allowance())["orderIntentId"]
    status, first, _ = await cm.mint(oid, {**AGENTIC, "amount": {"value": "20.00", "currency": "USD"}})
    assert status == 201
    status, body, _ = await cm.mint(oid, {**AGENTIC, "amount": {"value": "5.01", "currency": "USD"}})
    assert status == 422 and body["available"] == "5.00"
    status, second, _ = await cm.mint(oid, SPT | {"amount": {"value": "5", "currency": "usd"}})
    assert status == 201 and second["amount"] == {"value": "5.00", "currency": "USD"}
    status, body = await cm.control(f"/_sandbox/crossmint/credentials/{first['id']}/settle", {"outcome": "captured"})
    assert status == 200 and body["status"] == "active" and body["amount"]["spent"] == "20.00"
    await cm.control("/_sandbox/clock/advance", {"seconds": 1800})  # the second one lapses: all 25.00 spent
    events = await cm.event_list(oid)
    assert (events[-1]["type"], events[-1]["occurred_at"]) == ("order-intents.expired", "2026-01-01T00:30:00.000Z")
    read = await cm.read(oid)
    assert read["status"] == "expired"
    assert read["amount"] == {"total": "25.00", "spent": "25.00", "reserved": "0.00", "available": "0.00", "currency": "USD"}
    status, body, _ = await cm.mint(oid, SPT)
    assert status == 409 and body["message"] == "order intent is not active" and body["status"] == "expired"


async def test_a_credential_without_amount_on_a_fully_reserved_allowance_says_nothing_is_available(cm):
    oid = (await cm.allowance())["orderIntentId"]
    status, first, _ = await cm.mint(oid, {**SPT, "amount": None})  # no amount: everything available
    assert status == 201 and first["amount"] == {"value": "25.00", "currency": "USD"}
    status, body, _ = await cm.mint(oid, {**SPT, "amount": None})
    assert (status, body["code"], body["available"], body["amount"]) == (422, "ORDER_INTENT_INSUFFICIENT_AMOUNT", "0.00", "0.00")
    assert body["message"] == "nothing is available: the 25.00 USD is all reserved or spent"
    assert (await balances(cm, oid))["reserved"] == "25.00"
    assert [e["type"] for e in await cm.event_list(oid)].count("order-intents.credentials-issued") == 1


async def test_a_released_credential_gives_its_amount_back(cm):
    oid = (await cm.allowance())["orderIntentId"]
    _, credential, _ = await cm.mint(oid, AGENTIC)
    status, body = await cm.control(f"/_sandbox/crossmint/credentials/{credential['id']}/settle", {"outcome": "released"})
    assert status == 200 and body["amount"]["available"] == "25.00" and body["amount"]["reserved"] == "0.00"
    status, body = await cm.control(f"/_sandbox/crossmint/credentials/{credential['id']}/settle")
    assert status == 409 and body["error"]["details"] == {"state": "released"}
    assert (await cm.control("/_sandbox/crossmint/credentials/nope/settle"))[0] == 404
    assert (await cm.control(f"/_sandbox/crossmint/credentials/{oid}/settle"))[0] == 404


async def test_cancel_releases_what_credentials_reserved(cm):
    oid = (await cm.allowance())["orderIntentId"]
    await cm.mint(oid, AGENTIC)
    assert (await cm.request("DELETE", f"/order-intents/{oid}"))[0] == 204
    read = await cm.read(oid)
    assert read["status"] == "cancelled" and read["amount"]["reserved"] == "0.00" and read["amount"]["spent"] == "0.00"
    status, body, _ = await cm.mint(oid, AGENTIC)
    assert status == 409 and body["status"] == "cancelled"
    await cm.control("/_sandbox/clock/advance", {"seconds": 3600})  # the lapse timer finds nothing left to capture
    assert (await cm.read(oid))["amount"]["spent"] == "0.00"


async def test_a_credential_never_outlives_its_allowance(cm):
    oid = (await cm.allowance(expiresAt="2026-01-01T00:10:00Z"))["orderIntentId"]
    _, body, _ = await cm.mint(oid, AGENTIC)
    assert body["expiresAt"] == "2026-01-01T00:10:00.000Z"
    await cm.control("/_sandbox/clock/advance", {"seconds": 600})
    read = await cm.read(oid)
    assert read["status"] == "expired" and read["amount"]["spent"] == "10.00"


async def test_the_body_must_match_the_intents_generation(cm):
    gen2 = await cm.allowance()
    status, body, _ = await cm.credentials(gen2["orderIntentId"])  # Gen-1 {merchant}
    assert status == 400 and body["message"][0].startswith(f"rail is required: order intent {gen2['orderIntentId']} was created with")
    gen1 = await cm.active_intent()
    status, body, _ = await cm.mint(gen1["orderIntentId"], AGENTIC)
    assert status == 400 and body["message"][0].startswith("rail is not accepted")
    assert (await cm.mint("oi_nope", AGENTIC))[0] == 404


async def test_a_retry_with_the_same_key_replays_the_same_jwe(cm):
    oid = (await cm.allowance())["orderIntentId"]
    headers = {"Idempotency-Key": "mint-1"}
    first = await cm.mint(oid, {**encrypted(), "amount": USD}, headers=headers)
    again = await cm.mint(oid, {**encrypted(), "amount": USD}, headers=headers)
    assert again[1] == first[1] and again[2]["Idempotent-Replayed"] == "true"
    assert (await balances(cm, oid))["reserved"] == "10.00"
