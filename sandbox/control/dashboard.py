"""The dashboard at `/_sandbox/`: what the sandbox holds and what it sent, in a browser.

A page served from here, with a script and a style sheet served by the sandbox itself (nothing
from the network, no build step), reads the control plane's JSON routes from the same origin: so
the admin token's cookie (`/_sandbox/login`) works, and the page asks the guard for nothing more
than any other route. Its Content-Security-Policy allows this server's own script, styles and
requests only.

Live updates: while a page is open, it polls `GET /_sandbox/activity`, a few numbers that change
when anything does (events, deliveries and their attempts, requests, objects, endpoints, the
clock, scenario rules firing), and reads the section shown only when they changed. Nothing runs
when no page is open: the API's requests do no work for the dashboard.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from html import escape
from importlib import resources
from typing import Any

from aiohttp import web

from sandbox import __version__
from sandbox.core.api import Call, ProviderApi, Reply
from sandbox.core.openapi import OBJECT, ResponseDoc
from sandbox.core.requests import UNLOGGED

ROOT = "/_sandbox"
PAGE_PATH = ROOT + "/"
STATIC = ROOT + "/static/"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store", "X-Frame-Options": "DENY",
}


@cache
def asset(name: str) -> bytes:
    return resources.files("sandbox.control").joinpath("static", name).read_bytes()


def routes(api: ProviderApi) -> list[web.RouteDef]:
    rt = api.runtime

    async def page(request: web.Request) -> web.Response:
        providers = " ".join(f'<option value="{escape(name)}">{escape(name)}</option>' for name in rt.providers.names)
        html = PAGE.format(version=escape(__version__), seed=rt.settings.seed, providers=providers)
        return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)

    async def to_page(request: web.Request) -> web.Response:
        return web.Response(status=308, headers={"Location": PAGE_PATH})

    def serve(name: str):
        async def file(request: web.Request) -> web.Response:
            headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
            return web.Response(body=asset(name), content_type=ASSETS[name], charset="utf-8", headers=headers)

        return file

    def activity(call: Call) -> Reply:
        call.request[UNLOGGED] = True  # a page polls it: it would fill the request log, and change what it reports
        events = rt.events.all()
        deliveries = rt.outbox.all()
        statuses = Counter(delivery.status for delivery in deliveries)
        clock = rt.clock.describe()
        return Reply({
            "events": {"count": len(events), "last": events[-1].id if events else None},
            "deliveries": {
                "count": len(deliveries), "attempts": sum(len(delivery.attempts) for delivery in deliveries),
                "pending": statuses["pending"], "delivered": statuses["delivered"], "failed": statuses["failed"],
            },
            "endpoints": [[e.id, e.enabled, e.url, e.tenant, e.disabled_reason] for e in rt.endpoints.all()],
            "requests": _last_request(rt.requests.query(limit=50)),
            "objects": rt.store.sizes().get("objects", 0),
            "scenarios": [[scenario.id, sum(scenario.fired)] for scenario in rt.rules.all()],
            "clock": {
                "frozen": clock["frozen"], "offset_seconds": clock["offset_seconds"], "now": clock["now"] if clock["frozen"] else None,
            },
        })

    assets = [
        api.document("GET", STATIC + name, serve(name), summary=f"The dashboard's {name.rsplit('.', 1)[1].upper()} (served by the sandbox)",
                     responses={200: ResponseDoc("The file", media_type=media)})
        for name, media in ASSETS.items()
    ]
    return [
        api.document("GET", PAGE_PATH, page, summary="The dashboard: objects and their history, webhooks, requests, clock, scenarios",
                     responses={200: ResponseDoc("The page (its script and styles are served by the sandbox)", media_type="text/html")}),
        api.document("GET", ROOT, to_page, summary="The dashboard's address without its final slash",
                     responses={308: ResponseDoc("To /_sandbox/", media_type=None, headers={"Location": "/_sandbox/"})}),
        *assets,
        api.route("GET", ROOT + "/activity", activity, summary="What changed: the numbers a dashboard polls to know what to read again",
                  responses={200: ResponseDoc(
                      "{events: {count, last}, deliveries: {count, attempts, pending, delivered, failed}, endpoints, requests, objects, "
                      "scenarios, clock}", schema=OBJECT,
                  )}),
    ]


def _last_request(newest_first: list[Any]) -> int | None:
    """The newest logged request that may have changed something: the control plane's reads
    (a dashboard's own) do not count, or every read would announce a change."""
    for entry in newest_first:
        if entry.provider is not None or entry.method not in ("GET", "HEAD"):
            return int(entry.seq)
    return None


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/_sandbox/static/dashboard.css">
<script src="/_sandbox/static/dashboard.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="top">
  <div class="brand"><h1>Sandbox</h1>
    <p class="muted">version {version} · seed {seed} · <a href="/_sandbox/docs">API documents</a></p></div>
  <div class="clock" role="group" aria-labelledby="clock-label">
    <span id="clock-label" class="label">Clock</span>
    <output id="clock-now" aria-live="off">…</output>
    <span id="clock-state" class="badge">…</span>
    <button type="button" id="clock-freeze">Freeze</button>
    <form id="advance-form" class="inline">
      <label for="advance-seconds">Advance by</label>
      <input id="advance-seconds" name="seconds" type="number" min="1" step="1" value="60" required> <span>s</span>
      <button type="submit">Advance</button>
    </form>
  </div>
  <div class="live"><label><input type="checkbox" id="live" checked> Live updates</label>
    <p id="status" role="status" aria-live="polite" class="muted"></p></div>
</header>
<nav aria-label="Sections" class="tabs">
  <a href="#objects" data-section="objects">Objects</a>
  <a href="#events" data-section="events">Events</a>
  <a href="#webhooks" data-section="webhooks">Webhooks</a>
  <a href="#requests" data-section="requests">Requests</a>
  <a href="#scenarios" data-section="scenarios">Scenarios</a>
  <a href="#tenants" data-section="tenants">Tenants and reset</a>
</nav>
<form id="scope" class="scope" aria-label="Scope: which provider and tenant the sections show">
  <label for="scope-provider">Provider</label>
  <select id="scope-provider" name="provider"><option value="">every provider</option>{providers}</select>
  <label for="scope-tenant">Tenant</label>
  <select id="scope-tenant" name="tenant"><option value="">every tenant</option></select>
</form>
<main id="main" tabindex="-1">
<section id="objects" aria-labelledby="objects-title" hidden>
  <h2 id="objects-title">Objects</h2>
  <form id="objects-form" class="filters" role="search">
    <label for="objects-q">Search by id</label>
    <input id="objects-q" name="q" type="search" autocomplete="off" placeholder="an id, or a part of one">
    <label for="objects-kind">Kind</label><select id="objects-kind" name="kind"><option value="">every kind</option></select>
    <label><input type="checkbox" id="objects-internal" name="internal"> the providers' own records too</label>
    <button type="submit">Search</button>
  </form>
  <div class="split">
    <div id="objects-list" class="list"><p class="muted">Loading…</p></div>
    <section id="object-detail" class="detail" aria-label="The object chosen" tabindex="-1">
      <p class="muted">Choose an object to see its state and history.</p></section>
  </div>
</section>
<section id="events" aria-labelledby="events-title" hidden>
  <h2 id="events-title">Events <span class="muted">newest first</span></h2>
  <form id="events-form" class="filters" role="search">
    <label for="events-type">Type</label><input id="events-type" name="type" type="search" autocomplete="off">
    <label for="events-object">Object id</label><input id="events-object" name="object_id" type="search" autocomplete="off">
    <button type="submit">Filter</button>
  </form>
  <div id="events-list"></div>
</section>
<section id="webhooks" aria-labelledby="webhooks-title" hidden>
  <h2 id="webhooks-title">Webhooks</h2>
  <h3>Endpoints</h3><div id="endpoints-list"></div>
  <h3>Deliveries <span class="muted">newest first, every attempt with the signed headers and the body as sent</span></h3>
  <form id="deliveries-form" class="filters" role="search">
    <label for="deliveries-status">Status</label>
    <select id="deliveries-status" name="status"><option value="">any</option>
      <option>pending</option><option>delivered</option><option>failed</option></select>
    <label for="deliveries-object">Object id</label><input id="deliveries-object" name="object_id" type="search" autocomplete="off">
    <button type="submit">Filter</button>
  </form>
  <div id="deliveries-list"></div>
</section>
<section id="requests" aria-labelledby="requests-title" hidden>
  <h2 id="requests-title">Requests <span class="muted">newest first, credentials redacted</span></h2>
  <form id="requests-form" class="filters" role="search">
    <label for="requests-path">Path</label>
    <input id="requests-path" name="path" type="search" autocomplete="off" placeholder="a prefix (/…) or any part">
    <label for="requests-status">Status</label><input id="requests-status" name="status" size="4" autocomplete="off" placeholder="4xx">
    <label><input type="checkbox" id="requests-reads" checked> hide the control plane's reads (this page's own)</label>
    <button type="submit">Filter</button>
  </form>
  <div id="requests-list"></div>
</section>
<section id="scenarios" aria-labelledby="scenarios-title" hidden>
  <h2 id="scenarios-title">Scenarios <span class="muted">loaded rules, and how often each fired</span></h2>
  <div id="scenarios-list"></div>
</section>
<section id="tenants" aria-labelledby="tenants-title" hidden>
  <h2 id="tenants-title">Tenants and reset</h2>
  <p>A reset forgets a tenant's objects, events, deliveries, idempotency keys and logged requests (docs/dashboard.md).</p>
  <div id="tenants-list"></div>
  <h3>Demo data</h3>
  <p>Fill a few new tenants of every provider with realistic objects, made from the seed through the providers' own APIs.</p>
  <button type="button" id="demo-fill">Fill with demo data</button>
</section>
</main>
</body></html>
"""
