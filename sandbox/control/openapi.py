"""The OpenAPI documents of every API the sandbox serves, and a page that reads them.

`GET /_sandbox/openapi` lists them; `GET /_sandbox/openapi/{name}.json` is one document (the
control plane's is `sandbox`); `GET /_sandbox/docs` renders them with plain JavaScript from the
sandbox itself: nothing is loaded from the network. Each document is built once, on first
request, from the route metadata collected at start-up (`sandbox.core.openapi`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox import __version__
from sandbox.core.api import Call, ProviderApi, Reply, apis_of
from sandbox.core.errors import ErrorKind, SandboxError
from sandbox.core.openapi import OBJECT, ApiInfo, ResponseDoc, api_key_scheme, bearer_scheme, openapi_document

INDEX = "/_sandbox/openapi"
DOCS = "/_sandbox/docs"


def document_name(api: ProviderApi) -> str:
    return api.provider.strip("_")  # the control plane's API is `_sandbox`; its document is `sandbox`


INFO = ApiInfo(
    title="Sandbox control plane",
    description=(
        "The sandbox's own routes under /_sandbox/: health, reset, the clock, events, webhook endpoints and deliveries, "
        "scenarios, recording, the request log, these documents, and each provider's operator routes and pages (the "
        "human and merchant steps the sandbox plays). Errors are {error: {code, message, details}}. When the server "
        "runs with an admin token (--admin-token), every route needs it, except the human-step pages."
    ),
    security={
        "adminToken": bearer_scheme("The admin token, when the sandbox runs with one (--admin-token)"),
        "adminHeader": api_key_scheme("X-Sandbox-Admin-Token", "The admin token, when the sandbox runs with one"),
    },
    auth_responses={401: "the sandbox runs with an admin token and none (or another) was sent"},
    requirements=((), ("adminToken",), ("adminHeader",)),  # optional: only a sandbox with a token asks
)


def routes(api: ProviderApi) -> list[web.RouteDef]:
    api.describe(INFO)
    built: dict[str, dict[str, Any]] = {}
    titles: dict[str, str] = {}

    def documents(app: web.Application) -> dict[str, dict[str, Any]]:
        if not built:  # the routes are fixed once the app serves
            for each in [*(other for other in apis_of(app) if other is not api), api]:  # the providers', then this one
                name = document_name(each)
                built[name] = openapi_document(each.info, each.docs, each.style, __version__)
                titles[name] = each.info.title
        return built

    def index(call: Call) -> Reply:
        names = documents(call.request.app)
        data = [{"name": name, "title": titles[name], "url": f"{INDEX}/{name}.json"} for name in names]
        return Reply({"object": "list", "data": data, "docs": DOCS})

    def one(call: Call) -> Reply:
        found = documents(call.request.app).get(call.param("name"))
        if found is None:
            names = ", ".join(documents(call.request.app))
            raise SandboxError(ErrorKind.NOT_FOUND, f"no OpenAPI document {call.param('name')!r}; one of {names}")
        return Reply(found)

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    return [
        api.route("GET", INDEX, index, summary="List the OpenAPI documents", responses={
            200: ResponseDoc("Each document's name, title and address", schema=OBJECT),
        }),
        api.route("GET", INDEX + "/{name}.json", one, summary="One API's OpenAPI 3.1 document", responses={
            200: "The document",
        }),
        api.document("GET", DOCS, page, summary="The documents, rendered (a self-contained page)", responses={
            200: ResponseDoc("The page", media_type="text/html"),
        }),
    ]


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox API documents</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#222}
nav a{margin-right:1rem}nav a.on{font-weight:700}
details{border:1px solid #ddd;border-radius:4px;margin:.4rem 0}summary{cursor:pointer;padding:.4rem .6rem}
details>div{padding:0 .8rem .6rem}.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace}
.GET{color:#0a6}.POST{color:#05c}.PUT,.PATCH{color:#a60}.DELETE{color:#c22}
code,pre{font-family:ui-monospace,monospace;font-size:.85rem}pre{background:#f6f6f6;padding:.5rem;overflow:auto}
table{border-collapse:collapse;margin:.3rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
.muted{color:#666}
</style></head>
<body><h1>Sandbox API documents</h1>
<p class="muted">OpenAPI 3.1, generated from the sandbox's routes and models. Raw JSON: <span id="raw"></span></p>
<nav id="nav"></nav><div id="doc"><p>Loading…</p></div>
<script>
"use strict";
const el = (tag, attrs, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const kid of kids) if (kid !== null && kid !== undefined) node.append(kid);
  return node;
};
let spec = null;
const refName = ref => ref.split("/").pop();
const resolve = s => (s && s.$ref ? spec.components.schemas[refName(s.$ref)] || {} : s || {});
function typeOf(s) {
  if (!s) return "any";
  if (s.$ref) return refName(s.$ref);
  if (s.anyOf || s.oneOf) return (s.anyOf || s.oneOf).map(typeOf).join(" | ");
  if (s.enum) return s.enum.map(v => JSON.stringify(v)).join(" | ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.type === "array") return "array of " + typeOf(s.items);
  if (Array.isArray(s.type)) return s.type.join(" | ");
  return s.type || "any";
}
function limits(s) {
  const out = [];
  const keys = ["minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern", "format",
    "minItems", "maxItems"];
  for (const k of keys) if (s[k] !== undefined) out.push(k + " " + s[k]);
  if (s.default !== undefined) out.push("default " + JSON.stringify(s.default));
  return out.join(", ");
}
function schemaView(schema, seen) {
  const s = resolve(schema);
  const name = schema && schema.$ref ? refName(schema.$ref) : null;
  if (name && seen.has(name)) return el("span", {}, name);
  const next = new Set(seen); if (name) next.add(name);
  const props = s.properties || {};
  if (!Object.keys(props).length) {
    const more = s.additionalProperties && typeof s.additionalProperties === "object" ? " of " + typeOf(s.additionalProperties) : "";
    return el("code", {}, typeOf(s) + more);
  }
  const required = new Set(s.required || []);
  const table = el("table", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "type"), el("th", {}, "notes")));
  for (const [key, prop] of Object.entries(props)) {
    const inner = resolve(prop.items || prop);
    const nested = inner.properties ? schemaView(prop.items || prop, next) : null;
    table.append(el("tr", {}, el("td", {}, el("code", {}, key), required.has(key) ? " *" : ""),
      el("td", {}, el("code", {}, typeOf(prop)), nested), el("td", {}, [prop.description, limits(prop)].filter(Boolean).join("; "))));
  }
  return el("div", {}, name ? el("div", {class: "muted"}, name) : null, table);
}
function operation(method, path, op) {
  const body = el("div");
  if (op.description) body.append(el("p", {}, op.description));
  const sec = op.security || [];
  const auth = sec.map(o => Object.keys(o).join(" + ")).join(" or ");
  body.append(el("p", {class: "muted"}, sec.length ? "Authentication: " + auth : "No authentication"));
  if (op.parameters && op.parameters.length) {
    const t = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "notes")));
    for (const p of op.parameters)
      t.append(el("tr", {}, el("td", {}, el("code", {}, p.name), p.required ? " *" : ""), el("td", {}, p.in),
        el("td", {}, el("code", {}, typeOf(p.schema))), el("td", {}, [p.description, limits(p.schema || {})].filter(Boolean).join("; "))));
    body.append(el("h4", {}, "Parameters"), t);
  }
  if (op.requestBody) {
    body.append(el("h4", {}, "Body" + (op.requestBody.required ? "" : " (optional)")));
    for (const [media, c] of Object.entries(op.requestBody.content))
      body.append(el("div", {class: "muted"}, media), schemaView(c.schema, new Set()));
  }
  body.append(el("h4", {}, "Responses"));
  for (const [status, r] of Object.entries(op.responses || {})) {
    const media = Object.entries(r.content || {}).map(([m, c]) => m + " " + typeOf(c.schema)).join(", ");
    body.append(el("div", {}, el("strong", {}, status + " "), r.description, media ? el("span", {class: "muted"}, " — " + media) : null));
  }
  return el("details", {}, el("summary", {}, el("span", {class: "m " + method.toUpperCase()}, method.toUpperCase()),
    el("code", {}, path), " ", el("span", {class: "muted"}, op.summary || "")), body);
}
function show(doc) {
  spec = doc;
  const root = document.getElementById("doc");
  root.replaceChildren(el("h2", {}, doc.info.title + " ", el("span", {class: "muted"}, doc.info.version)));
  if (doc.info.description) root.append(el("p", {}, doc.info.description));
  for (const [name, scheme] of Object.entries((doc.components || {}).securitySchemes || {}))
    root.append(el("p", {}, el("strong", {}, name + ": "), scheme.type === "apiKey" ? "header " + scheme.name : scheme.scheme + " token",
      scheme.description ? " — " + scheme.description : ""));
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) root.append(operation(method, path, op));
  const errors = (doc.components.schemas || {}).Error;
  if (errors) root.append(el("h3", {}, "Error body"), schemaView({$ref: "#/components/schemas/Error"}, new Set()));
}
async function main() {
  const list = (await (await fetch("/_sandbox/openapi")).json()).data;
  const nav = document.getElementById("nav"), raw = document.getElementById("raw");
  for (const d of list) {
    nav.append(el("a", {href: "#" + d.name, id: "nav-" + d.name}, d.title));
    raw.append(el("a", {href: d.url}, d.name + ".json"), " ");
  }
  async function route() {
    const name = location.hash.slice(1) || list[0].name;
    for (const a of nav.children) a.className = a.id === "nav-" + name ? "on" : "";
    const d = list.find(x => x.name === name) || list[0];
    show(await (await fetch(d.url)).json());
  }
  window.addEventListener("hashchange", route);
  await route();
}
main().catch(e => { document.getElementById("doc").textContent = "Could not load the documents: " + e; });
</script></body></html>
"""
