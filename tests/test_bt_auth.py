"""Basis Theory AI JWTs: iss is the project, sub is the entity; strict verification on request."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.bt import ENTITY, PROJECT, Bt, card, token

EXACT_401 = {
    "error": {"status": 401, "type": "unauthorized", "title": "Unauthorized", "message": "Missing or invalid API key was provided."}
}


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer not-a-jwt", "Basic abc", "Token " + token()],
)
async def test_missing_or_malformed_tokens_get_the_exact_401(bt, header):
    headers = {"Authorization": header} if header else {}
    async with bt.client.get(bt.path("/purchase-intents"), headers=headers) as resp:
        assert resp.status == 401
        assert await resp.json() == EXACT_401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_expired_token_is_401(bt):
    status, body, headers = await bt.request("GET", "/purchase-intents", jwt_token=token(exp=int(time.time()) - 10))
    assert (status, body) == (401, EXACT_401)
    assert "expired" in headers["WWW-Authenticate"]


async def test_token_without_sub_is_401(bt):
    status, body, _ = await bt.request("GET", "/purchase-intents", jwt_token=token(sub=None))
    assert (status, body) == (401, EXACT_401)


async def test_issuer_must_be_the_project(bt):
    status, body, _ = await bt.request("GET", "/purchase-intents", jwt_token=token(iss="another-project"))
    assert status == 403
    assert body["error"]["type"] == "forbidden" and "iss" in body["error"]["message"]


async def test_entity_must_be_the_subject(bt):
    method = await bt.payment_method()
    body = bt.intent_body(method["id"], entityId="someone-else")
    status, resp, _ = await bt.request("POST", "/purchase-intents", body)
    assert status == 403 and "sub" in resp["error"]["message"]
    status, resp, _ = await bt.request("POST", "/payment-methods", {"entityId": "someone-else", "card": card()})
    assert status == 403 and resp["error"]["type"] == "forbidden"


async def test_entities_and_projects_never_see_each_others_objects(bt):
    intent = await bt.intent()
    other_entity = Bt(bt.client, PROJECT, "user-99")
    status, body, _ = await other_entity.request("GET", f"/purchase-intents/{intent['id']}")
    assert (status, body["error"]["type"]) == (404, "not_found")
    status, listing, headers = await other_entity.request("GET", "/purchase-intents")
    assert listing == [] and headers["X-Total-Count"] == "0"
    other_project = Bt(bt.client, "other-project", ENTITY)
    status, _, _ = await other_project.request("GET", f"/purchase-intents/{intent['id']}")
    assert status == 404
    status, _, _ = await other_project.request("GET", f"/payment-methods/{intent['paymentMethodId']}")
    assert status == 404


def rsa_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, pem


def signed(key, kid="k1", **claims):
    payload = {"iss": PROJECT, "sub": ENTITY, "roles": ["private"], "exp": int(time.time()) + 600, **claims}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


async def test_strict_mode_with_a_jwks(make_api, tmp_path):
    key, _ = rsa_pair()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    bt = Bt((await make_api(bt_jwks=str(path))).client)
    status, _, _ = await bt.request("GET", "/purchase-intents", jwt_token=signed(key))
    assert status == 200
    other_key, _ = rsa_pair()
    for bad in (signed(other_key), signed(key, kid="unknown"), token()):
        status, body, _ = await bt.request("GET", "/purchase-intents", jwt_token=bad)
        assert (status, body) == (401, EXACT_401)


async def test_strict_mode_with_a_public_key(make_api, tmp_path):
    key, pem = rsa_pair()
    path = tmp_path / "key.pem"
    path.write_bytes(pem)
    bt = Bt((await make_api(bt_jwt_public_key=str(path))).client)
    status, _, _ = await bt.request("GET", "/purchase-intents", jwt_token=signed(key))
    assert status == 200
    status, _, _ = await bt.request("GET", "/purchase-intents", jwt_token=token())  # HS256, unsigned by the key
    assert status == 401


async def test_lenient_mode_accepts_any_signature(bt):
    key, _ = rsa_pair()
    status, _, _ = await bt.request("GET", "/purchase-intents", jwt_token=signed(key))
    assert status == 200


async def test_cors_preflight_for_the_browser_sdk(bt):
    headers = {
        "Origin": "http://localhost:5173",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with bt.client.options(bt.path("/purchase-intents/x/verify"), headers=headers) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
        assert "authorization" in resp.headers["Access-Control-Allow-Headers"]
    status, _, headers = await bt.request("GET", "/purchase-intents", headers={"Origin": "http://localhost:5173"})
    assert status == 200 and "X-Total-Count" in headers["Access-Control-Expose-Headers"]


async def test_idempotency_keys_never_cross_entities(bt):
    method = await bt.payment_method("6011111111111117")
    body = bt.intent_body(method["id"])
    status, first, _ = await bt.request("POST", "/purchase-intents", body, headers={"Idempotency-Key": "k"})
    assert status == 201 and "card" in first
    intruder = Bt(bt.client, PROJECT, "user-99")
    status, resp, headers = await intruder.request("POST", "/purchase-intents", body, headers={"Idempotency-Key": "k"})
    assert status == 403 and "Idempotent-Replayed" not in headers
    assert "card" not in resp["error"] and first["card"]["number"] not in str(resp)


def unsigned(claims):
    """A token PyJWT would refuse to mint (it checks `sub` is a string), built by hand."""
    part = lambda obj: base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


async def test_a_non_string_sub_is_401(bt):
    claims = {"iss": PROJECT, "sub": 42, "exp": int(time.time()) + 60}
    status, body, _ = await bt.request("GET", "/purchase-intents", jwt_token=unsigned(claims))
    assert (status, body) == (401, EXACT_401)
