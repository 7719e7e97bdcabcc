"""The Basis Theory platform's human steps and operator routes, under /_sandbox/basistheory/.

- the public key that checks BT-SIGNATURE, as Basis Theory publishes theirs;
- the pages behind a verification's passkey endpoint and a Mastercard redirect;
- the 3-D Secure challenge page (the issuer's ACS), which takes the sandbox code 123456;
- the operator's walk through an instruction's ceremony (START, AUTHENTICATE_PASSKEY, …) for
  instructions another provider owns (`runtime.instructions`).
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.openapi import ResponseDoc
from sandbox.core.pages import render_page
from sandbox.core.verification import passkey_page
from sandbox.providers.basistheory_platform.ceremony import PASSKEY_PAGE, REDIRECT_PAGE
from sandbox.providers.basistheory_platform.events import BtSigner
from sandbox.providers.basistheory_platform.models import CeremonyStep, ChallengeForm
from sandbox.providers.basistheory_platform.threeds import CHALLENGE_PAGE, ThreeDs

KEY_PATH = "/_sandbox/keys/basistheory-webhooks.v1.key"
ACS_NOTE = "Basis Theory sandbox: stands in for the card issuer's 3-D Secure challenge (ACS)."


def routes(operator: ProviderApi, threeds: ThreeDs, signer: BtSigner) -> list[web.RouteDef]:
    async def public_key(request: web.Request) -> web.Response:
        return web.Response(body=signer.public_key_pem(), content_type="application/x-pem-file")

    tags = ("basistheory",)
    page = ResponseDoc("The page", media_type="text/html")
    return [
        operator.document("GET", KEY_PATH, public_key, tags=tags, summary="The public key that checks BT-SIGNATURE on webhooks",
                          responses={200: ResponseDoc("The RSA public key (PEM)", media_type="application/x-pem-file")}),
        operator.document("GET", PASSKEY_PAGE, passkey_page, tags=tags, summary="The card network's passkey page (for a human)",
                          responses={200: page}),
        operator.document("GET", REDIRECT_PAGE + "{id}", redirect_page, tags=tags,
                          summary="Mastercard's hosted authentication (for a human)",
                          responses={200: page}),
        *challenge_routes(operator, threeds),
        operator.route("POST", "/_sandbox/basistheory/instructions/{id}/verify", _verify_instruction(operator), body=CeremonyStep,
                       tags=tags, summary="One step of an instruction's verification ceremony, for instructions another provider owns",
                       responses={200: "The step's answer", 404: "No such instruction"}),
    ]


async def redirect_page(request: web.Request) -> web.Response:
    """Where a Mastercard `redirect_required` sends the cardholder (Managed Authentication)."""
    reference = escape(request.match_info["id"])
    body = (
        f"<p>Mastercard authentication for <code>{reference}</code> is simulated by the sandbox.</p>"
        "<p>The cardholder is done here: finish with <code>verify/complete</code> (an enrollment) or "
        "<code>verify/passkey</code> (an instruction).</p>"
    )
    return render_page("Mastercard authentication (sandbox)", body, note="Basis Theory sandbox: stands in for Mastercard's hosted page.")


def challenge_routes(operator: ProviderApi, threeds: ThreeDs) -> list[web.RouteDef]:
    async def challenge(request: web.Request) -> web.Response:
        session_id = escape(request.match_info["id"])
        form = (
            f'<form method="post" action="{CHALLENGE_PAGE}{session_id}">'
            '<p>Enter the code the bank sent you (the sandbox code is <code>123456</code>):</p>'
            '<input name="code" autocomplete="one-time-code"> <button name="action" value="submit">Submit</button>'
            '<button name="action" value="cancel">Cancel</button></form>'
        )
        return render_page("Verify your purchase", form, note=ACS_NOTE)

    async def answer(request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except (ValueError, LookupError):
            return render_page("Verify your purchase", "<p>The form could not be read.</p>", 400, note=ACS_NOTE)
        cancelled = form.get("action") == "cancel"
        if not cancelled and not form.get("code"):  # nothing typed: ask again, the challenge stays open
            return await challenge(request)
        code = form.get("code")
        try:
            status = threeds.answer_challenge(request.match_info["id"], code if isinstance(code, str) else None, cancelled)
        except SandboxError as error:
            return render_page("Verify your purchase", f"<p>{escape(error.message)}</p>", 409, note=ACS_NOTE)
        return render_page("Verify your purchase", f"<p>Authentication {escape(status)}. You can close this window.</p>", note=ACS_NOTE)

    tags, page = ("basistheory",), ResponseDoc("The page", media_type="text/html")
    return [
        operator.document("GET", CHALLENGE_PAGE + "{id}", challenge, tags=tags,
                          summary="The issuer's 3-D Secure challenge (for a human)", responses={200: page}),
        operator.document("POST", CHALLENGE_PAGE + "{id}", answer, tags=tags, body=ChallengeForm, empty_ok=True,
                          body_media="application/x-www-form-urlencoded",
                          summary="The challenge's form: the code (123456 in the sandbox), or cancel", responses={
            200: ResponseDoc("The outcome (or the form again, when no code was typed)", media_type="text/html"),
            400: ResponseDoc("The form could not be read (a page)", media_type="text/html"),
            409: ResponseDoc("No challenge waits for this session (a page)", media_type="text/html"),
        }),
    ]


def _verify_instruction(operator: ProviderApi):
    def verify(call: Call) -> Reply:
        body = call.parse(CeremonyStep)
        instruction = operator.runtime.instructions.get(call.param("id"))
        if instruction is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Instruction {call.param('id')} not found")
        return Reply(instruction.verify(body.action, body.payload, call.links_base() + PASSKEY_PAGE).body)

    return verify
