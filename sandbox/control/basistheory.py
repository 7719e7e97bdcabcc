"""The page behind `authContext.endpoint` of a Visa CREATE_PASSKEY answer.

In production that endpoint is Visa's passkey iframe. Here the cardholder's step is played by
the next API call (AUTHENTICATE_PASSKEY), and this page says so to whoever opens it.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from sandbox.control.pages import render_page
from sandbox.core.errors import SandboxError
from sandbox.core.webhooks.signing import bt_public_key_pem
from sandbox.providers.btplatform.service import BasisTheoryPlatformService
from sandbox.providers.btplatform.threeds import ThreeDs


async def passkey(request: web.Request) -> web.Response:
    identifier = request.query.get("identifier", "")
    body = (
        "<p>The sandbox plays the cardholder's passkey step: send "
        "<code>{\"action\": \"AUTHENTICATE_PASSKEY\"}</code> to the verify endpoint of what is being verified "
        f"to finish verification{' of ' + escape(identifier) if identifier else ''}.</p>"
    )
    return render_page("Passkey (sandbox)", body, note="Basis Theory sandbox: stands in for the card network's passkey page.")


async def redirect(request: web.Request) -> web.Response:
    """Where a Mastercard `redirect_required` sends the cardholder (Managed Authentication)."""
    reference = escape(request.match_info["id"])
    body = (
        f"<p>Mastercard authentication for <code>{reference}</code> is simulated by the sandbox.</p>"
        "<p>The cardholder is done here: finish with <code>verify/complete</code> (an enrollment) or "
        "<code>verify/passkey</code> (an instruction).</p>"
    )
    return render_page("Mastercard authentication (sandbox)", body, note="Basis Theory sandbox: stands in for Mastercard's hosted page.")


def routes(runtime) -> list[web.RouteDef]:
    platform = BasisTheoryPlatformService(runtime)
    threeds = ThreeDs(runtime, platform._tenant_id, platform.hooks)

    async def public_key(request: web.Request) -> web.Response:
        """The public key that checks BT-SIGNATURE, as Basis Theory publishes theirs."""
        return web.Response(body=bt_public_key_pem(), content_type="application/x-pem-file")
    note = "Basis Theory sandbox: stands in for the card issuer's 3-D Secure challenge (ACS)."

    async def challenge(request: web.Request) -> web.Response:
        session_id = escape(request.match_info["id"])
        form = (
            f'<form method="post" action="/_sandbox/basistheory/3ds/challenge/{session_id}">'
            '<p>Enter the code the bank sent you (the sandbox code is <code>123456</code>):</p>'
            '<input name="code" autocomplete="one-time-code"> <button name="action" value="submit">Submit</button>'
            '<button name="action" value="cancel">Cancel</button></form>'
        )
        return render_page("Verify your purchase", form, note=note)

    async def answer(request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except (ValueError, LookupError):
            return render_page("Verify your purchase", "<p>The form could not be read.</p>", 400, note=note)
        cancelled = form.get("action") == "cancel"
        if not cancelled and not form.get("code"):  # nothing typed: ask again, the challenge stays open
            return await challenge(request)
        try:
            status = threeds.answer_challenge(request.match_info["id"], form.get("code"), cancelled)
        except SandboxError as error:
            return render_page("Verify your purchase", f"<p>{escape(error.message)}</p>", 409, note=note)
        return render_page("Verify your purchase", f"<p>Authentication {escape(status)}. You can close this window.</p>", note=note)

    return [
        web.get("/_sandbox/keys/basistheory-webhooks.v1.key", public_key),
        web.get("/_sandbox/basistheory/passkey", passkey),
        web.get("/_sandbox/basistheory/redirect/{id}", redirect),
        web.get("/_sandbox/basistheory/3ds/challenge/{id}", challenge),
        web.post("/_sandbox/basistheory/3ds/challenge/{id}", answer),
    ]
