"""The official Basis Theory SDK (`basistheoryclient`), unmodified, against `sandbox serve`."""

import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from basis_theory import BasisTheory
from basis_theory.errors import BadRequestError, NotFoundError, UnauthorizedError, UnprocessableEntityError

from tests.conftest import free_port

DEVICE = {
    "screen_height": 800, "screen_width": 1200, "user_agent_string": "Mozilla/5.0", "language_code": "en-US",
    "time_zone": "UTC", "java_script_enabled": True, "client_device_id": "device-1", "client_reference_id": "ref-1",
    "platform_type": "WEB",
}
NO_RETRIES = {"max_retries": 0}


@pytest.fixture
def base_url(serve):
    port = free_port()
    serve("--port", str(port), "--seed", "12", "--clock", "2026-01-01T00:00:00Z").stdout.readline()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def bt(base_url):
    return BasisTheory(api_key="key_test_sdk", base_url=base_url)


def card_token(bt, number):
    return bt.tokens.create(type="card", data={"number": number, "expiration_month": 12, "expiration_year": 2030, "cvc": "123"})


def test_tokens_are_masked(bt):
    token = card_token(bt, "4242424242424242")
    assert token.type == "card" and token.data["number"] == "XXXXXXXXXXXX4242"
    assert token.card.last4 == "4242" and token.card.brand == "visa" and token.fingerprint
    assert bt.tokens.get(token.id).id == token.id
    bt.tokens.delete(token.id)
    with pytest.raises(NotFoundError):
        bt.tokens.get(token.id)


def test_the_passkey_bypass_path(bt):
    token = card_token(bt, "4000056655665556")
    enrollment = bt.agentic.enrollments.create(token_id=token.id, consumer={"email": "jane@example.com"})
    assert enrollment.status == "pending_verification" and enrollment.card.last4 == "5556" and enrollment.provider
    assert bt.agentic.enrollments.verify.start(enrollment.id, device_context=DEVICE).status == "approved"
    assert bt.agentic.enrollments.get(enrollment.id).status == "active"


def test_the_otp_path_then_an_agent_instruction_and_credentials(bt):
    token = card_token(bt, "4000000000000002")
    enrollment = bt.agentic.enrollments.create(token_id=token.id, consumer={"email": "jane@example.com"})
    started = bt.agentic.enrollments.verify.start(enrollment.id, device_context=DEVICE)
    assert started.status == "challenge" and started.methods and started.methods[0].id and started.methods[0].type
    assert bt.agentic.enrollments.verify.method(enrollment.id, method_id=started.methods[0].id).status == "otp_sent"
    assert bt.agentic.enrollments.verify.otp(enrollment.id, otp_code="000000").status == "device_bound"
    assert bt.agentic.enrollments.verify.complete(enrollment.id).status == "verified"
    assert bt.agentic.enrollments.get(enrollment.id).status == "active"

    agent = bt.agentic.agents.create(name="Shopper", enrollment_ids=[enrollment.id])
    assert agent.status == "active" and agent.enrollment_ids == [enrollment.id]
    instruction = bt.agentic.agents.instructions.create(
        agent.id, enrollment_id=enrollment.id, amount={"value": "25.00", "currency": "USD"},
        description="Groceries", expires_at="2026-01-02T00:00:00Z",
    )
    assert instruction.status == "pending_verification"
    verification = bt.agentic.agents.instructions.verify.start(agent.id, instruction.id, device_context=DEVICE)
    assert verification.status == "passkey_required" and verification.passkey_context.action == "AUTHENTICATE"
    approved = bt.agentic.agents.instructions.verify.passkey(agent.id, instruction.id, assurance_data={"identifier": "x"})
    assert approved.status == "approved"
    with pytest.raises(BadRequestError):
        bt.agentic.agents.instructions.credentials.create(agent.id, instruction.id, request_options=NO_RETRIES)
    credentials = bt.agentic.agents.instructions.credentials.create(
        agent.id, instruction.id, merchant={"name": "Shop", "url": "https://shop.example.com", "country_code": "US"},
        products=[{"name": "Milk", "price": 4.99, "quantity": 2}],
    )
    assert re.fullmatch(r"^400000100000\d{4}$", credentials.card.number) and credentials.card.number.endswith("0002")
    with pytest.raises(UnprocessableEntityError):
        bt.agentic.agents.instructions.credentials.create(
            agent.id, instruction.id, merchant={"name": "Shop", "url": "https://shop.example.com", "country_code": "US"},
            amount={"value": "25.01", "currency": "USD"}, request_options=NO_RETRIES,
        )


def test_mastercard_redirect_path_through_the_hosted_page(bt):
    token = card_token(bt, "5555555555554444")
    enrollment = bt.agentic.enrollments.create(token_id=token.id, consumer={"email": "jane@example.com"})
    started = bt.agentic.enrollments.verify.start(enrollment.id, device_context=DEVICE)
    assert started.status == "redirect_required" and started.redirect.uri_type == "WEB_URI"
    with urllib.request.urlopen(started.redirect.uri, timeout=5) as page:
        assert page.status == 200 and "verify/complete" in page.read().decode()
    assert bt.agentic.enrollments.verify.complete(enrollment.id, assurance_data={"result": "ok"}).status == "verified"


def test_a_failed_enrollment_can_be_retried(bt):
    token = card_token(bt, "4000000000000341")
    enrollment = bt.agentic.enrollments.create(token_id=token.id, consumer={"email": "jane@example.com"})
    assert enrollment.status == "failed"
    assert bt.agentic.enrollments.retry(enrollment.id).status == "pending_verification"
    with pytest.raises(UnprocessableEntityError):
        bt.agentic.enrollments.retry(enrollment.id, request_options=NO_RETRIES)


def test_pagination_through_the_sdk_pager_ends(bt):
    token = card_token(bt, "4000056655665556")
    created = {bt.agentic.enrollments.create(token_id=token.id, consumer={"email": "a@example.com"}).id for _ in range(5)}
    seen = [e.id for e in bt.agentic.enrollments.list(limit=2)]
    assert sorted(seen) == sorted(created)


def test_agents_crud_and_typed_errors(bt, base_url):
    agent = bt.agentic.agents.create(name="A")
    assert bt.agentic.agents.update(agent.id, name="B").name == "B"
    assert bt.agentic.agents.get(agent.id).created_at == agent.created_at
    bt.agentic.agents.delete(agent.id)
    with pytest.raises(NotFoundError):
        bt.agentic.agents.get(agent.id)
    with pytest.raises(BadRequestError) as bad:
        bt.agentic.agents.create(name="")
    assert "name" in bad.value.body.errors
    with pytest.raises(UnauthorizedError):
        BasisTheory(api_key="key_live_x", base_url=base_url).agentic.agents.create(name="A")
    token = card_token(bt, "378282246310005")
    with pytest.raises(UnprocessableEntityError):
        bt.agentic.enrollments.create(token_id=token.id, consumer={"email": "a@example.com"}, request_options=NO_RETRIES)


AUTH = {"authentication_category": "payment", "authentication_type": "payment-transaction"}


def test_3ds_frictionless(bt):
    token = card_token(bt, "4242424242424242")
    session = bt.threeds.sessions.create(token_id=token.id, type="customer", device="browser")
    assert session.id and session.card_brand == "Visa"
    auth = bt.threeds.sessions.authenticate(session.id, **AUTH)
    assert (auth.authentication_status, auth.authentication_status_code, auth.eci) == ("successful", "Y", "05")
    assert auth.liability_shifted is True and auth.authentication_value
    assert bt.threeds.sessions.get(session.id).authentication.authentication_status == "successful"


def test_3ds_challenge_completed_on_the_hosted_page(bt):
    token = card_token(bt, "4242424242424242")
    session = bt.threeds.sessions.create(token_id=token.id, device="browser")
    auth = bt.threeds.sessions.authenticate(session.id, challenge_preference="challenge-mandated", **AUTH)
    assert auth.authentication_status == "challenge" and auth.acs_rendering_type.acs_interface
    with urllib.request.urlopen(auth.acs_challenge_url, timeout=5) as page:
        assert "123456" in page.read().decode()
    form = urllib.parse.urlencode({"code": "123456", "action": "submit"}).encode()
    with urllib.request.urlopen(urllib.request.Request(auth.acs_challenge_url, data=form), timeout=5) as page:
        assert "successful" in page.read().decode()
    result = bt.threeds.sessions.get_challenge_result(session.id)
    assert (result.authentication_status, result.challenge_attempts) == ("successful", "01") and result.authentication_value


def test_3ds_challenge_cancelled(bt):
    token = card_token(bt, "4000000000003220")  # always challenged
    session = bt.threeds.sessions.create(token_id=token.id, device="browser")
    auth = bt.threeds.sessions.authenticate(session.id, **AUTH)
    form = urllib.parse.urlencode({"action": "cancel"}).encode()
    urllib.request.urlopen(urllib.request.Request(auth.acs_challenge_url, data=form), timeout=5).close()
    result = bt.threeds.sessions.get_challenge_result(session.id)
    assert (result.authentication_status, result.challenge_cancel_reason, result.liability_shifted) == (
        "failed",
        "cardholder-canceled",
        False,
    )


@pytest.mark.parametrize("number, status", [("4000008400001629", "rejected"), ("4000000000003055", "attempted")])
def test_3ds_outcomes_by_card(bt, number, status):
    token = card_token(bt, number)
    session = bt.threeds.sessions.create(token_id=token.id, device="browser")
    assert bt.threeds.sessions.authenticate(session.id, **AUTH).authentication_status == status


def test_3ds_decoupled_for_merchant_sessions_and_idempotency(bt):
    token = card_token(bt, "4000000000003220")
    session = bt.threeds.sessions.create(token_id=token.id, type="merchant")
    first = bt.threeds.sessions.authenticate(session.id, idempotency_key="auth-1", **AUTH)
    again = bt.threeds.sessions.authenticate(session.id, idempotency_key="auth-1", **AUTH)
    assert first.authentication_status == again.authentication_status == "decoupled_challenge"
    assert first.acs_transaction_id == again.acs_transaction_id
    assert bt.threeds.sessions.get_challenge_result(session.id).authentication_status == "successful"
    with pytest.raises(NotFoundError):
        bt.threeds.sessions.get("00000000-0000-4000-8000-000000000000")


@pytest.fixture
def receiver():
    import http.server
    import threading

    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    server.shutdown()


def test_webhooks_through_the_sdk_and_a_signed_delivery(bt, base_url, receiver):
    import json

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    url, received = receiver
    bt.webhooks.ping()
    assert "token.created" in bt.webhooks.events.list()
    hook = bt.webhooks.create(name="tokens", url=url, events=["token.created"])
    assert (hook.status, hook.name, hook.events, hook.tenant_id, hook.created_by) == (
        "enabled",
        "tokens",
        ["token.created"],
        hook.tenant_id,
        hook.created_by,
    )
    assert [w.id for w in bt.webhooks.list().data] == [hook.id]
    renamed = bt.webhooks.update(hook.id, name="cards", url=url, events=["token.created", "token.deleted"])
    assert renamed.name == "cards" and renamed.modified_at
    token = card_token(bt, "4242424242424242")
    with urllib.request.urlopen(urllib.request.Request(f"{base_url}/_sandbox/webhooks/flush", method="POST"), timeout=10) as resp:
        assert json.loads(resp.read())["flushed"] is True
    (headers, body), = received
    assert headers["BT-SIGNATURE-VERSION"] == "v1"
    with urllib.request.urlopen(f"{base_url}/_sandbox/keys/basistheory-webhooks.v1.key", timeout=5) as resp:
        public_key = serialization.load_pem_public_key(resp.read())
    payload = json.loads(body)
    stable = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    public_key.verify(
        __import__("base64").b64decode(headers["BT-SIGNATURE"]), stable,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256(),
    )
    assert payload["event"]["type"] == "token.created" and payload["event"]["data"]["token"]["id"] == token.id
    assert "4242424242424242" not in body.decode()
    bt.webhooks.delete(hook.id)
    with pytest.raises(NotFoundError):
        bt.webhooks.get(hook.id)


def test_a_crossmint_order_intent_verifies_through_the_basis_theory_sdk(base_url):
    import json

    def crossmint(method, path, body=None):
        request = urllib.request.Request(
            f"{base_url}/api/unstable{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"X-API-KEY": "sk_staging_seam", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            return json.loads(resp.read())

    agent = crossmint("POST", "/agents", {"metadata": {"name": "Shopper"}})["agentId"]
    method = crossmint(
        "POST", "/payment-methods", {"card": {"number": "4000056655665556", "expiration": {"month": "12", "year": "2030"}}}
    )["paymentMethodId"]
    crossmint("POST", f"/payment-methods/{method}/agentic-enrollment", {})
    intent = crossmint("POST", "/order-intents", {"agentId": agent, "payment": {"paymentMethodId": method}, "mandates": []})
    config = intent["verificationConfig"]
    assert intent["phase"] == "requires-verification"

    bt = BasisTheory(api_key=config["publicApiKey"], base_url=base_url)
    started = bt.agentic.agents.instructions.verify.start(config["agentId"], config["instructionId"], device_context=DEVICE)
    assert started.status == "passkey_required"
    approved = bt.agentic.agents.instructions.verify.passkey(config["agentId"], config["instructionId"], assurance_data={})
    assert approved.status == "approved"
    assert crossmint("GET", f"/order-intents/{intent['orderIntentId']}")["phase"] == "active"
    with pytest.raises(NotFoundError):
        BasisTheory(api_key="key_test_other", base_url=base_url).agentic.agents.instructions.verify.start(
            config["agentId"], config["instructionId"], device_context=DEVICE, request_options=NO_RETRIES)


def test_conflict_on_verifying_an_active_enrollment(bt):
    from basis_theory.errors import ConflictError

    token = card_token(bt, "4000056655665556")
    enrollment = bt.agentic.enrollments.create(token_id=token.id, consumer={"email": "a@example.com"})
    bt.agentic.enrollments.verify.start(enrollment.id, device_context=DEVICE)
    with pytest.raises(ConflictError):
        bt.agentic.enrollments.verify.start(enrollment.id, device_context=DEVICE, request_options=NO_RETRIES)


@pytest.mark.parametrize("path, body, field", [
    ("/tokens", {"type": "card", "data": {"number": "4242424242424241", "expiration_month": 12, "expiration_year": 2030}}, "data.number"),
    ("/tokens", {"type": "bank"}, "type"),
    ("/tokens", [], "body"),
    ("/agentic/agents", {"name": 5}, "name"),
    ("/agentic/enrollments", {"token_id": "x", "consumer": {"email": "nope"}}, "consumer.email"),
    ("/3ds/sessions", {"type": "merchant"}, "body"),
    ("/webhooks", {"name": "n", "url": "not a url", "events": ["token.created"]}, "url"),
])
def test_raw_bad_input_is_a_problem_document(base_url, path, body, field):
    import json

    request = urllib.request.Request(f"{base_url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"BT-API-KEY": "key_test_raw", "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    problem = json.loads(caught.value.read())
    assert caught.value.code == 400 and problem["status"] == 400 and field in problem["errors"] and problem["title"]
