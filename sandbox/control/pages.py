"""Hosted pages for the human steps: the operator's approval page behind Dino's approval_url."""

from __future__ import annotations

from html import escape

from aiohttp import web

from sandbox.core.errors import SandboxError
from sandbox.core.runtime import Runtime
from sandbox.providers.dino.service import DinoService

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
dt{{font-weight:600}}dd{{margin:0 0 .5rem}}button{{font-size:1rem;padding:.5rem 1.5rem;margin-right:1rem}}
.note{{color:#555}}</style></head>
<body><h1>{title}</h1>{body}<p class="note">{note}</p></body></html>"""
DINO_NOTE = "Dino sandbox: this page stands in for the approval screen of app.dino.id."


def render_page(title: str, body: str, status: int = 200, *, note: str = DINO_NOTE) -> web.Response:
    """A hosted page for a human step; `body` is trusted HTML, everything else is escaped."""
    page = _PAGE.format(title=escape(title), body=body, note=escape(note))
    return web.Response(text=page, status=status, content_type="text/html")


def routes(runtime: Runtime) -> list[web.RouteDef]:
    service = DinoService(runtime)

    def approval_page(intent_id: str, notice: str = "", status: int = 200) -> web.Response:
        try:
            _, intent = service.find(intent_id)
        except SandboxError as error:
            return render_page("Purchase intent not found", f"<p>{escape(error.message)}</p>", 404)
        wire = intent.to_wire()
        rows = "".join(
            f"<dt>{escape(label)}</dt><dd>{escape('—' if wire[key] is None else str(wire[key]))}</dd>"
            for label, key in (
                ("Intent", "id"), ("Status", "status"), ("Product", "product_url"), ("Merchant", "merchant_name"),
                ("Expected total (cents)", "expected_total_cents"), ("Maximum total (cents)", "max_total_cents"),
                ("Currency", "currency"), ("Reason", "reason"), ("Decision", "decision_reason"),
            )
        )
        form = ""
        if intent.status == "needs_approval":
            form = (
                f'<form method="post" action="/_sandbox/dino/approvals/{escape(intent.id)}">'
                '<button name="decision" value="approve">Approve</button>'
                '<button name="decision" value="deny">Deny</button></form>'
            )
        notice_html = f"<p><strong>{escape(notice)}</strong></p>" if notice else ""
        return render_page("Approve purchase", f"{notice_html}<dl>{rows}</dl>{form}", status)

    async def show(request: web.Request) -> web.Response:
        return approval_page(request.match_info["id"])

    async def submit(request: web.Request) -> web.Response:
        intent_id = request.match_info["id"]
        decision = (await request.post()).get("decision")
        if decision not in ("approve", "deny"):
            return render_page("Bad request", "<p>Choose approve or deny.</p>", 400)
        try:
            service.decide(intent_id, decision == "approve", None)
        except SandboxError as error:
            return approval_page(intent_id, error.message, 409)
        raise web.HTTPSeeOther(f"/_sandbox/dino/approvals/{intent_id}")

    return [
        web.get("/_sandbox/dino/approvals/{id}", show),
        web.post("/_sandbox/dino/approvals/{id}", submit),
    ]
