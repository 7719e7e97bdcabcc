"""The page behind `authContext.endpoint` of a Visa CREATE_PASSKEY answer.

In production that endpoint is Visa's passkey iframe. Here the cardholder's step is played by
the next API call (AUTHENTICATE_PASSKEY), and this page says so to whoever opens it.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from sandbox.control.pages import render_page


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


def routes() -> list[web.RouteDef]:
    return [web.get("/_sandbox/basistheory/passkey", passkey), web.get("/_sandbox/basistheory/redirect/{id}", redirect)]
