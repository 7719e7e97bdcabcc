"""The Basis Theory platform's human steps and operator routes, under /_sandbox/basistheory/.

- the public key that checks BT-SIGNATURE, as Basis Theory publishes theirs;
- the pages behind a verification's passkey endpoint and a Mastercard redirect, which show what
  is verified and report the cardholder's answer (the front end's next call finishes it);
- the 3-D Secure challenge page (the issuer's ACS), which takes the sandbox code 123456; for a
  session of the redirect variant (`callback_urls`), the same address is Basis Theory's hosted
  page, which sends the cardholder back to the callback once the authentication is over;
  all in the look of `sandbox.core.pages` (docs/basistheory.md, "Pages for the cardholder");
- the network's side of an enrollment: suspend it, and reinstate it (no API call does);
- the operator's walk through an instruction's ceremony (START, AUTHENTICATE_PASSKEY, …) for
  instructions another provider owns (`runtime.instructions`).
"""

from __future__ import annotations

from aiohttp import web

from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.openapi import ResponseDoc
from sandbox.core.pages import (
    Html,
    Outcome,
    ReturnQuery,
    ReturnTo,
    Step,
    actions,
    alert,
    amount_text,
    button,
    card_text,
    code,
    form,
    hint,
    human_page,
    para,
    read_form,
    summary,
    tag,
    text_field,
    text_of,
)
from sandbox.core.verification import PasskeyForm, PasskeyQuery, find_subject, passkey_answer, passkey_page
from sandbox.providers.basistheory_platform import enrollments
from sandbox.providers.basistheory_platform import threeds as three_ds
from sandbox.providers.basistheory_platform.ceremony import PASSKEY_PAGE, REDIRECT_PAGE
from sandbox.providers.basistheory_platform.context import Context
from sandbox.providers.basistheory_platform.events import PROVIDER, BtSigner
from sandbox.providers.basistheory_platform.models import CeremonyStep, ChallengeForm, RedirectForm
from sandbox.providers.basistheory_platform.threeds import CHALLENGE_OTP, CHALLENGE_PAGE, Session, ThreeDs

KEY_PATH = "/_sandbox/keys/basistheory-webhooks.v1.key"
ACS_NOTE = "Basis Theory sandbox: this page stands in for the card issuer's 3-D Secure challenge (ACS)."
HOSTED_NOTE = ("Basis Theory sandbox: this page stands in for Basis Theory's hosted 3-D Secure page (redirect_url), with the card "
               "issuer's challenge inside it.")
ENROLLMENTS = "/_sandbox/basistheory/enrollments/{id}"
REDIRECT_NOTE = "Basis Theory sandbox: this page stands in for Mastercard's hosted authentication (Managed Authentication)."
FORM = "application/x-www-form-urlencoded"


def routes(operator: ProviderApi, threeds: ThreeDs, signer: BtSigner) -> list[web.RouteDef]:
    async def public_key(request: web.Request) -> web.Response:
        return web.Response(body=signer.public_key_pem(), content_type="application/x-pem-file")

    tags = ("basistheory",)
    outcome_page = ResponseDoc("The outcome (nothing is stored: the front end's next call finishes the verification)",
                               media_type="text/html")
    unread = ResponseDoc("The form could not be read, or chose no button (a page)", media_type="text/html")
    return [
        operator.document("GET", KEY_PATH, public_key, tags=tags, summary="The public key that checks BT-SIGNATURE on webhooks",
                          responses={200: ResponseDoc("The RSA public key (PEM)", media_type="application/x-pem-file")}),
        operator.document("GET", PASSKEY_PAGE, passkey_page, tags=tags, query=PasskeyQuery,
                          summary="The card network's passkey page (for a human)",
                          responses={200: ResponseDoc("The page", media_type="text/html")}),
        operator.document("POST", PASSKEY_PAGE, passkey_answer, tags=tags, body=PasskeyForm, empty_ok=True, body_media=FORM,
                          summary="The passkey page's form: use the passkey, or cancel", responses={200: outcome_page, 400: unread}),
        operator.document("GET", REDIRECT_PAGE + "{id}", redirect_page, tags=tags, query=ReturnQuery,
                          summary="Mastercard's hosted authentication (for a human)",
                          responses={200: ResponseDoc("The page", media_type="text/html")}),
        operator.document("POST", REDIRECT_PAGE + "{id}", redirect_answer, tags=tags, body=RedirectForm, empty_ok=True,
                          body_media=FORM, summary="Mastercard's hosted authentication: authenticate, or cancel",
                          responses={200: outcome_page, 400: unread}),
        *challenge_routes(operator, threeds),
        operator.route("POST", "/_sandbox/basistheory/instructions/{id}/verify", _verify_instruction(operator), body=CeremonyStep,
                       tags=tags, summary="One step of an instruction's verification ceremony, for instructions another provider owns",
                       responses={200: "The step's answer", 404: "No such instruction"}),
        *enrollment_routes(operator),
    ]


# -- the network's side of an enrollment ------------------------------------------------------------


def enrollment_routes(operator: ProviderApi) -> list[web.RouteDef]:
    """Suspend an active enrollment and reinstate it, as the card network would (no API call can);
    each through the machine, announced by its event, found by its id whatever the key."""
    ctx = Context(operator.runtime)

    def moved(move):
        def handler(call: Call) -> Reply:
            return Reply(move(ctx, call.param("id")).to_wire())

        return handler

    tags = ("basistheory",)
    return [
        operator.route("POST", ENROLLMENTS + "/suspend", moved(enrollments.suspend), tags=tags,
                       summary="Suspend an active enrollment (the card network's decision)", responses={
            200: "The enrollment, suspended", 404: "No such enrollment", 409: "The enrollment is not active",
        }),
        operator.route("POST", ENROLLMENTS + "/reinstate", moved(enrollments.reinstate), tags=tags,
                       summary="Reinstate a suspended enrollment: active again", responses={
            200: "The enrollment, active", 404: "No such enrollment", 409: "The enrollment is not suspended",
        }),
    ]


# -- Mastercard's hosted page ----------------------------------------------------------------------


def _redirect(request: web.Request, back: ReturnTo, outcome: Outcome | None = None, status: int = 200, notice: str = "") -> web.Response:
    reference = request.match_info["id"]
    subject = find_subject(request, reference)
    then = subject.then if subject is not None else "verify/complete (an enrollment) or verify/passkey (an instruction)"
    content: list[object] = [
        alert(notice) if notice else None,
        summary(subject.rows if subject is not None else (("Reference", reference),),
                heading=subject.what if subject is not None else "What this is about"),
    ]
    if outcome is None:
        content.append(form(
            request.path, para("Mastercard asks you to confirm it is you."),
            actions(button("Authenticate", "authenticate"), button("Cancel", "cancel", kind="secondary")),
            back=back, label="Mastercard authentication",
        ))
    content.append(hint(
        para("The sandbox plays Mastercard's authentication: ", tag("strong", "Authenticate"), " succeeds and ",
             tag("strong", "Cancel"), " does not. Nothing changes on the sandbox's side here."),
        para("Then your front end finishes the verification with ", code(then), "."),
    ))
    step = Step(subject.provider if subject is not None else PROVIDER, "mastercard_redirect", reference)
    return human_page(request, provider="Mastercard", title="Confirm it is you", subtitle="Authentication", content=content,
                      note=REDIRECT_NOTE, status=status, step=step, outcome=outcome, back=back)


async def redirect_page(request: web.Request) -> web.Response:
    """Where a Mastercard `redirect_required` sends the cardholder (Managed Authentication)."""
    return _redirect(request, ReturnTo.from_request(request))


async def redirect_answer(request: web.Request) -> web.Response:
    posted = await read_form(request)
    back = ReturnTo.from_request(request, posted.get("return_url") if posted is not None else None)
    if posted is None:
        return _redirect(request, back, status=400, notice="The form could not be read.")
    action = posted.get("action")
    if action not in ("authenticate", "cancel"):
        return _redirect(request, back, status=400, notice="Choose Authenticate or Cancel.")
    if action == "cancel":
        return _redirect(request, back, Outcome("cancelled", "Authentication cancelled", "Nothing was verified."))
    return _redirect(request, back, Outcome("succeeded", "Authenticated",
                                            "Your front end now finishes the verification with its next API call."))


# -- the issuer's 3-D Secure challenge --------------------------------------------------------------


def challenge_routes(operator: ProviderApi, threeds: ThreeDs) -> list[web.RouteDef]:
    def page(request: web.Request, back: ReturnTo, notice: str = "", status: int = 200) -> web.Response:
        session_id = request.match_info["id"]
        found = threeds.find(session_id)
        if found is None:
            return human_page(request, provider="Your bank", title="No such 3-D Secure session", subtitle="3-D Secure",
                              content=para(f"3DS session {session_id} not found."), note=ACS_NOTE, status=404, back=back)
        _, session = found
        if three_ds.callbacks(session) is not None:
            return _hosted(request, session, notice, status)
        state = session.challenge
        outcome = _challenge_outcome(session.authentication or {}) if state == "completed" else None
        content: list[object] = [alert(notice) if notice else None, summary(_session_rows(session))]
        if state == "pending":
            content += [_challenge_form(request.path, back), _challenge_hint()]
        elif outcome is None:
            content.append(hint(para("No challenge waits for this session: its authentication is ",
                                     code((session.authentication or {}).get("authentication_status", "not started")), ".")))
        title = "3-D Secure verification" if outcome else ("Verify your purchase" if state == "pending" else "Nothing to verify")
        return human_page(request, provider="Your bank", title=title, subtitle="3-D Secure", content=content, note=ACS_NOTE,
                          status=status, step=Step(PROVIDER, "3ds_challenge", session.id), outcome=outcome, back=back)

    async def challenge(request: web.Request) -> web.Response:
        return page(request, ReturnTo.from_request(request))

    async def answer(request: web.Request) -> web.StreamResponse:
        posted = await read_form(request)
        back = ReturnTo.from_request(request, posted.get("return_url") if posted is not None else None)
        if posted is None:
            return page(request, back, "The form could not be read.", 400)
        found = threeds.find(request.match_info["id"])
        if found is None:
            return page(request, back)  # the 404 page
        if three_ds.callbacks(found[1]) is not None:
            return _hosted_answer(request, threeds, found[1], posted)
        cancelled = posted.get("action") == "cancel"
        code_typed = text_of(posted, "code")
        if not cancelled and code_typed is None:  # nothing typed: ask again, the challenge stays open
            return page(request, back, f"Type the code the bank sent you (the sandbox's code is {CHALLENGE_OTP}).")
        try:
            threeds.answer_challenge(request.match_info["id"], code_typed, cancelled)
        except SandboxError as error:
            return page(request, back, error.message, 409)
        raise back.see_other(request.path)

    tags = ("basistheory",)
    missing = ResponseDoc("No such 3-D Secure session (a page)", media_type="text/html")
    return [
        operator.document("GET", CHALLENGE_PAGE + "{id}", challenge, tags=tags, query=ReturnQuery,
                          summary="The issuer's 3-D Secure challenge, or a redirect session's hosted page (for a human)", responses={
            200: ResponseDoc("The page: the challenge, or its outcome", media_type="text/html"),
            303: ResponseDoc("A redirect session whose authentication is over: to its callback URL", media_type=None),
            404: missing,
        }),
        operator.document("POST", CHALLENGE_PAGE + "{id}", answer, tags=tags, body=ChallengeForm, empty_ok=True,
                          body_media=FORM,
                          summary="The challenge's form: the code (123456 in the sandbox), approve (decoupled), or cancel", responses={
            200: ResponseDoc("The form again, when no code was typed", media_type="text/html"),
            303: ResponseDoc("Answered: back to the page, which shows the outcome; for a redirect session, to its callback URL",
                             media_type=None),
            400: ResponseDoc("The form could not be read (a page)", media_type="text/html"),
            404: missing,
            409: ResponseDoc("No challenge waits for this session (a page)", media_type="text/html"),
        }),
    ]


# -- the redirect variant: Basis Theory's hosted page ------------------------------------------------


def _hosted(request: web.Request, session: Session, notice: str = "", status: int = 200) -> web.Response:
    """A redirect session's page: the challenge (or the decoupled approval) while one waits, else
    straight back to the callback URL the outcome names."""
    waiting = three_ds.waiting(session)
    if waiting is None:
        raise web.HTTPSeeOther(three_ds.callback(session))
    urls = three_ds.callbacks(session) or {}
    hidden = bool((urls.get("branding") or {}).get("hide_basis_theory_branding"))
    if waiting == "challenge":
        content: list[object] = [alert(notice) if notice else None, summary(_session_rows(session)),
                                 _challenge_form(request.path, ReturnTo()), _hosted_hint("challenge")]
        title = "Verify your purchase"
    else:
        content = [alert(notice) if notice else None, summary(_session_rows(session)), form(
            request.path, para("Your bank sent a request to its app: approve the purchase there, then continue."),
            actions(button("I approved it", "approve"), button("Cancel", "cancel", kind="secondary")), label="3-D Secure approval",
        ), _hosted_hint("decoupled")]
        title = "Approve in your bank's app"
    page = human_page(request, provider="Your bank" if hidden else "Basis Theory", title=title, subtitle="3-D Secure",
                      content=content, note=HOSTED_NOTE, status=status, step=Step(PROVIDER, "3ds_redirect", session.id))
    # The form's answer redirects to the callback: a browser follows it only if form-action allows it.
    page.headers["Content-Security-Policy"] = page.headers["Content-Security-Policy"].replace(
        "form-action 'self'", " ".join(("form-action 'self'", *_origins(urls))))
    return page


def _hosted_answer(request: web.Request, threeds: ThreeDs, session: Session, posted) -> web.Response:
    """The hosted page's form; once the authentication is over, 303 to the callback URL."""
    waiting, action = three_ds.waiting(session), posted.get("action")
    if waiting == "challenge":
        code_typed = text_of(posted, "code")
        if action != "cancel" and code_typed is None:
            return _hosted(request, session, f"Type the code the bank sent you (the sandbox's code is {CHALLENGE_OTP}).")
        threeds.answer_challenge(session.id, code_typed, action == "cancel")
    elif waiting == "decoupled":
        if action not in ("approve", "cancel"):
            return _hosted(request, session, "Choose I approved it, or Cancel.", 400)
        threeds.answer_decoupled(session.id, action == "approve")
    raise web.HTTPSeeOther(three_ds.callback(session))  # a second answer lands where the first did


def _origins(urls: dict) -> list[str]:
    """The callback URLs' origins, as CSP sources, with the hosts the 303 names (IDNA: `exämple.com` is
    `xn--exmple-cua.com`); a host CSP cannot write, an IPv6 literal, is left out."""
    found = [three_ds.callback_origin(urls.get(name) or "") for name in ("success", "failure")]
    return list(dict.fromkeys(origin for origin in found if origin is not None))


def _hosted_hint(waiting: str) -> Html:
    if waiting == "challenge":
        first = para("The sandbox's code is ", code(CHALLENGE_OTP), ": the authentication ends ", code("successful"),
                     " and you go back to ", code("callback_urls.success"), ". Any other code ends it ", code("failed"), ", and ",
                     tag("strong", "Cancel"), " ", code("failed"), " with ", code("challenge_cancel_reason: cardholder-canceled"),
                     "; both go back to ", code("callback_urls.failure"), ".")
    else:
        first = para(tag("strong", "I approved it"), " ends the authentication ", code("successful"), " (back to ",
                     code("callback_urls.success"), "); ", tag("strong", "Cancel"), " ends it ", code("failed"), " (back to ",
                     code("callback_urls.failure"), ").")
    return hint(first, para("The callback URL is followed without its query string. Your back end then reads ",
                            code("GET /3ds/sessions/{id}"), "."))


def _challenge_outcome(auth: dict) -> Outcome:
    status = auth.get("authentication_status", "failed")
    if status == "successful":
        return Outcome("succeeded", "Purchase verified", "authentication_status: successful", status)
    if auth.get("challenge_cancel_reason"):
        return Outcome("cancelled", "Verification cancelled", f"authentication_status: {status} (cardholder-canceled)", status)
    return Outcome("failed", "Verification failed", f"authentication_status: {status}", status)


def _session_rows(session: Session) -> list[tuple[str, object]]:
    purchase, merchant = session.extra.get("purchase") or {}, session.extra.get("merchant") or {}
    currency = str(purchase.get("currency") or "")
    exponent = purchase.get("exponent")
    minor = int(exponent) if isinstance(exponent, str) and exponent.isdigit() and len(exponent) == 1 else (0 if currency == "392" else 2)
    return [
        ("Amount", amount_text(purchase.get("amount"), currency, minor_units=minor)),
        ("Merchant", merchant.get("name") or merchant.get("url")),
        ("Card", card_text(session.brand, session.number[-4:])),
        ("3-D Secure session", code(session.id)),
    ]


def _challenge_hint() -> Html:
    return hint(
        para("The sandbox's code is ", code(CHALLENGE_OTP), ": it makes the challenge-result ", code("successful"), ". Any other code "
             "makes it ", code("failed"), "; ", tag("strong", "Cancel"), " makes it ", code("failed"), " with ",
             code("challenge_cancel_reason: cardholder-canceled"), "."),
        para("Your back end then reads ", code("GET /3ds/sessions/{id}/challenge-result"), "."),
    )


def _challenge_form(action: str, back: ReturnTo) -> Html:
    field = text_field("code", "Code from your bank", help=f"6 digits. The sandbox's code is {CHALLENGE_OTP}.", inputmode="numeric",
                       autocomplete="one-time-code", maxlength="6", required=True, autofocus=True)
    buttons = actions(button("Submit", "submit"), button("Cancel", "cancel", kind="secondary"))
    return form(action, para("Your bank sent a code to the phone it has on file."), field, buttons, back=back, label="3-D Secure challenge")


def _verify_instruction(operator: ProviderApi):
    def verify(call: Call) -> Reply:
        body = call.parse(CeremonyStep)
        instruction = operator.runtime.instructions.get(call.param("id"))
        if instruction is None:
            raise SandboxError(ErrorKind.NOT_FOUND, f"Instruction {call.param('id')} not found")
        return Reply(instruction.verify(body.action, body.payload, call.links_base() + PASSKEY_PAGE).body)

    return verify
