"""The cardholder-verification ceremony of the card networks (Visa OTP + passkey, Mastercard,
frictionless, and mock flows), shared by every provider whose objects a cardholder verifies.

It knows nothing of what is verified: a `Session` walks one flow, action by action, and each
`Answer` says whether the cardholder is now verified or has failed. Real flows answer
`{"status", "data", "error"?}`; mock flows put a `MOCK_*` status inside `data` so a browser SDK
can finish without the card networks' scripts (the browser SDK's expectations are in docs/research/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from aiohttp import web

from sandbox.core.pages import render_page

SANDBOX_OTP = "123456"
OTP_ATTEMPTS = 3
ACTIONS = ("START", "SELECT_OTP", "VALIDATE_OTP", "AUTHENTICATE_PASSKEY", "MASTERCARD_AUTH_COMPLETE")
OTP_METHODS = (
    {"identifier": "otp-sms", "method": "OTPSMS", "value": "***-***-1234"},
    {"identifier": "otp-email", "method": "OTPEMAIL", "value": "c***@example.com"},
)


@dataclass(frozen=True, slots=True)
class FlowStep:
    status: str  # what the answer says
    next: str  # the step the session moves to
    checks_otp: bool = False


def _flow(brand: str, mock: bool, **steps: dict[str, FlowStep]) -> dict[str, Any]:
    return {"brand": brand, "mock": mock, "steps": steps}


# flow -> step -> action -> Step. "new" is where START applies; "verified" and "failed" end a flow.
FLOWS: dict[str, dict[str, Any]] = {
    "visa_otp": _flow(
        "VISA", False,
        new={"START": FlowStep("OTP_REQUIRED", "otp_required")},
        otp_required={"SELECT_OTP": FlowStep("OTP_PENDING", "otp_pending")},
        otp_pending={"VALIDATE_OTP": FlowStep("CREATE_PASSKEY", "passkey", checks_otp=True)},
        passkey={"AUTHENTICATE_PASSKEY": FlowStep("VERIFIED", "verified")},
    ),
    "visa_frictionless": _flow("VISA", False, new={"START": FlowStep("VERIFIED", "verified")}),
    # A card enrolled earlier (OTP done then) only needs its passkey, e.g. an intent on an enrolled card.
    "visa_passkey": _flow(
        "VISA", False,
        new={"START": FlowStep("PASSKEY_READY", "passkey")},
        passkey={"AUTHENTICATE_PASSKEY": FlowStep("VERIFIED", "verified")},
    ),
    "declined": _flow("VISA", False, new={"START": FlowStep("ERROR", "failed")}),
    "mastercard": _flow(
        "MASTERCARD", False,
        new={"START": FlowStep("PASSKEY_READY", "mastercard_auth")},
        mastercard_auth={"MASTERCARD_AUTH_COMPLETE": FlowStep("VERIFIED", "verified")},
    ),
    "mock_visa_otp": _flow(
        "VISA", True,
        new={"START": FlowStep("MOCK_OTP_REQUIRED", "otp_required")},
        otp_required={"SELECT_OTP": FlowStep("MOCK_OTP_PENDING", "otp_pending")},
        # The SDK finishes a mock passkey locally and calls no more: this answer verifies.
        otp_pending={"VALIDATE_OTP": FlowStep("MOCK_PASSKEY_CREATE", "verified", checks_otp=True)},
    ),
    "mock_visa_frictionless": _flow("VISA", True, new={"START": FlowStep("MOCK_SUCCESS", "verified")}),
    "mock_mastercard": _flow(
        "MASTERCARD", True,
        new={"START": FlowStep("MOCK_POPUP_REQUIRED", "mastercard_auth")},
        # The SDK accepts only a plain VERIFIED here, mock or not.
        mastercard_auth={"MASTERCARD_AUTH_COMPLETE": FlowStep("VERIFIED", "verified")},
    ),
}
TERMINAL = ("verified", "failed")

# The flows by the names scenario rules use (`challenge: otp`).
CHALLENGES = {
    "otp": "visa_otp", "frictionless": "visa_frictionless", "passkey": "mastercard", "fails": "declined",
    "mock_otp": "mock_visa_otp", "mock_success": "mock_visa_frictionless", "mock_popup": "mock_mastercard",
}


class OutOfOrder(Exception):
    def __init__(self, message: str, expected: list[str]) -> None:
        super().__init__(message)
        self.expected = expected


class BadPayload(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(slots=True)
class Answer:
    body: dict[str, Any]
    verified: bool = False
    failed: bool = False


@dataclass(slots=True)
class Session:
    flow: str
    label: str  # the magic card's label, sent as `mockCard` in mock answers
    reference: str  # the verified object's id, echoed in answers
    reference_field: str = "purchaseIntentId"
    step: str = "new"
    attempts_left: int = OTP_ATTEMPTS
    method_id: str | None = None
    history: list[str] = field(default_factory=list)

    @property
    def brand(self) -> str:
        return FLOWS[self.flow]["brand"]

    def expected_actions(self) -> list[str]:
        if self.step in TERMINAL:
            return []
        return sorted({"START", *FLOWS[self.flow]["steps"].get(self.step, {})})

    def advance(self, action: str, payload: dict[str, Any], passkey_page: str) -> Answer:
        """Apply one action; raises OutOfOrder or BadPayload without changing the session.

        `passkey_page` is the URL of the page that stands in for the network's passkey step.
        """
        if self.step in TERMINAL:
            raise OutOfOrder(f"Verification has already {'succeeded' if self.step == 'verified' else 'failed'}", [])
        steps = FLOWS[self.flow]["steps"]
        current = "new" if action == "START" else self.step  # START restarts an unfinished flow
        step = steps.get(current, {}).get(action)
        if step is None:
            expected = self.expected_actions()
            raise OutOfOrder(f"Verification expects {' or '.join(expected)} next, not {action}", expected)
        if action == "SELECT_OTP":
            self.method_id = _chosen_method(payload)
        if step.checks_otp:
            wrong = self._check_otp(payload)
            if wrong is not None:
                return wrong
        self.step = step.next
        self.history.append(action)
        if step.status == "ERROR":
            return Answer(_error("The card issuer declined the verification"), failed=True)
        return Answer(self._body(step.status, passkey_page), verified=self.step == "verified")

    def _check_otp(self, payload: dict[str, Any]) -> Answer | None:
        code = payload.get("otpCode")
        if not isinstance(code, str) or not (len(code) == 6 and code.isdigit()):
            raise BadPayload("payload.otpCode", "must be a string of 6 digits")
        if code == SANDBOX_OTP:
            return None
        self.attempts_left -= 1
        if self.attempts_left <= 0:
            self.step = "failed"
            return Answer(_error("Too many invalid OTP codes: verification failed", attemptsRemaining=0), failed=True)
        plural = "s" if self.attempts_left > 1 else ""
        message = f"Invalid OTP code; {self.attempts_left} attempt{plural} remaining"
        return Answer(_error(message, attemptsRemaining=self.attempts_left))

    def _body(self, status: str, passkey_page: str) -> dict[str, Any]:
        data: dict[str, Any] = {"brand": self.brand, self.reference_field: self.reference}
        if status.endswith("OTP_REQUIRED"):
            data["methods"] = [dict(m) for m in OTP_METHODS]
        elif status.endswith("OTP_PENDING"):
            data["methodId"] = self.method_id
        elif status in ("CREATE_PASSKEY", "MOCK_PASSKEY_CREATE") or (status == "PASSKEY_READY" and self.brand == "VISA"):
            endpoint = f"{passkey_page}?identifier={self.reference}"
            data["authContext"] = {"endpoint": endpoint, "identifier": self.reference}
        elif status in ("PASSKEY_READY", "MOCK_POPUP_REQUIRED"):
            data["authContext"] = {
                "brand": "MASTERCARD",
                "paymentMethod": {"id": self.reference},
                "sessionIdentifiers": {"flowId": f"flow-{self.reference}", "srcCorrelationId": f"src-{self.reference}"},
                "authenticationReason": "TRANSACTION_AUTHENTICATION",
            }
        if status.startswith("MOCK_"):
            return {"status": status, "data": {"status": status, "mockCard": self.label, "data": data, "error": None}}
        return {"status": status, "data": data}


def _chosen_method(payload: dict[str, Any]) -> str:
    method_id = payload.get("methodId")
    offered = [m["identifier"] for m in OTP_METHODS]
    if method_id not in offered:
        raise BadPayload("payload.methodId", f"must be one of the offered methods: {', '.join(offered)}")
    return method_id


def _error(message: str, **data: Any) -> dict[str, Any]:
    return {"status": "ERROR", "error": {"message": message}, "data": data}


async def passkey_page(request: web.Request) -> web.Response:
    """The page behind `authContext.endpoint` of a CREATE_PASSKEY answer.

    In production that endpoint is the card network's passkey iframe. Here the cardholder's
    step is played by the next API call (AUTHENTICATE_PASSKEY), and this page says so.
    """
    identifier = request.query.get("identifier", "")
    body = (
        "<p>The sandbox plays the cardholder's passkey step: send "
        "<code>{\"action\": \"AUTHENTICATE_PASSKEY\"}</code> to the verify endpoint of what is being verified "
        f"to finish verification{' of ' + escape(identifier) if identifier else ''}.</p>"
    )
    return render_page("Passkey (sandbox)", body, note="Sandbox: stands in for the card network's passkey page.")
