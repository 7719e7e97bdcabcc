// The sandbox dashboard: reads the control plane's JSON routes (same origin), renders them with
// the DOM (never innerHTML: every value is text), and polls /_sandbox/activity while it is open.
"use strict";

const POLL_MS = 2000;
const SECTIONS = ["objects", "events", "webhooks", "requests", "scenarios", "tenants"];
const state = {
  section: "objects", objectId: null, activity: null, clock: null, clockRead: 0, collections: [], endpoints: [],
  busy: false, again: false, collectionsRead: null,
};

// -- small helpers ------------------------------------------------------------------------------

function el(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return node;
}

const $ = id => document.getElementById(id);
const json = value => JSON.stringify(value, null, 2);
const time = text => (text ? String(text).replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "");

function badge(text, tone) {
  return el("span", {class: "badge " + (tone || toneOf(text))}, text === null || text === undefined ? "—" : String(text));
}

function toneOf(word) {
  const text = String(word || "").toLowerCase();
  if (/(fail|declin|error|disabled|expired|unavailable|revoked|rejected|canceled|cancelled|invalid)/.test(text)) return "bad";
  if (/(pending|needs|requires|verify|waiting|challenge|started|processing)/.test(text)) return "warn";
  if (/(complete|approved|active|delivered|verified|succe|issued|enabled|authorized|running)/.test(text)) return "ok";
  return "";
}

function statusTone(code) {
  if (code === null || code === undefined) return "bad";
  return code < 300 ? "ok" : code < 400 ? "" : code < 500 ? "warn" : "bad";
}

function table(headers, rows, caption) {
  return el("table", {},
    caption ? el("caption", {class: "visually-hidden", text: caption}) : null,
    el("thead", {}, el("tr", {}, headers.map(h => el("th", {scope: "col"}, h)))),
    el("tbody", {}, rows));
}

function empty(text) { return el("p", {class: "empty"}, text); }

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== "" && value !== null && value !== undefined && value !== false) search.set(key, value);
  const text = search.toString();
  return text ? "?" + text : "";
}

function say(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.className = isError ? "error" : "muted";
}

class Unauthorized extends Error {}

async function api(path, options) {
  const init = {credentials: "same-origin", headers: {Accept: "application/json"}, ...(options || {})};
  if (init.body !== undefined && typeof init.body !== "string") {
    init.body = JSON.stringify(init.body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (response.status === 401) throw new Unauthorized("sign in");
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error((body && body.error && body.error.message) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function scope() {
  return {provider: $("scope-provider").value, tenant: $("scope-tenant").value};
}

// Which <details> are open, kept across a re-render.
function openKeys(container) {
  return new Set([...container.querySelectorAll("details[open][data-key]")].map(node => node.dataset.key));
}

function replace(container, content, keep) {
  const open = keep ? openKeys(container) : new Set();
  container.replaceChildren(...[content].flat(Infinity).filter(Boolean));
  for (const node of container.querySelectorAll("details[data-key]")) if (open.has(node.dataset.key)) node.open = true;
}

function disclosure(key, summary, body, open) {
  return el("details", {"data-key": key, open: open || false}, el("summary", {}, summary), el("div", {class: "body"}, body));
}

// -- the clock ----------------------------------------------------------------------------------

async function readClock() {
  state.clock = await api("/_sandbox/clock");
  state.clockRead = Date.now();
  showClock();
}

function showClock() {
  const clock = state.clock;
  if (!clock) return;
  let now = clock.now;
  if (!clock.frozen) now = new Date(Date.parse(clock.now) + (Date.now() - state.clockRead)).toISOString();
  $("clock-now").textContent = time(now) + " UTC";
  const stateBadge = $("clock-state");
  stateBadge.textContent = clock.frozen ? "frozen" : clock.offset_seconds ? `running, ${clock.offset_seconds} s ahead` : "running";
  stateBadge.className = "badge " + (clock.frozen ? "warn" : "ok");
  $("clock-freeze").textContent = clock.frozen ? "Unfreeze" : "Freeze";
  $("clock-freeze").setAttribute("aria-label", clock.frozen ? "Unfreeze the clock: let it run from here" : "Freeze the clock at this instant");
}

async function act(label, work) {
  try {
    say(label + "…");
    const told = await work();
    await refresh();
    say(typeof told === "string" ? told : label + ": done");
  } catch (error) {
    report(error);
  }
}

// Options of a <select>: rebuilt only when they change, so a live update leaves a choice alone.
function setOptions(select, values, everything) {
  const chosen = select.value;
  const now = [...select.options].slice(1).map(option => option.value);
  if (now.length !== values.length || now.some((value, index) => value !== values[index])) {
    select.replaceChildren(el("option", {value: ""}, everything), ...values.map(value => el("option", {value}, value)));
  }
  select.value = values.includes(chosen) ? chosen : "";
}

function report(error) {
  if (error instanceof Unauthorized) {
    const status = $("status");
    status.replaceChildren("The admin token is needed: ", el("a", {href: "/_sandbox/login?next=/_sandbox/"}, "sign in"), ".");
    status.className = "error";
    return;
  }
  say(String(error.message || error), true);
}

// -- scope: providers and tenants ---------------------------------------------------------------

async function readCollections() {
  const marker = state.activity ? JSON.stringify([state.activity.objects, state.activity.endpoints, $("scope-provider").value]) : null;
  if (marker !== null && marker === state.collectionsRead) return;  // nothing new since the last read
  state.collectionsRead = marker;
  const listing = await api("/_sandbox/objects" + query({internal: true, limit: 1}));
  state.collections = listing.collections;
  state.endpoints = (await api("/_sandbox/webhook-endpoints")).data;
  const provider = $("scope-provider").value;
  const tenants = new Set();
  for (const c of state.collections) if (!provider || c.provider === provider) tenants.add(c.tenant);
  for (const e of state.endpoints) if (e.tenant && (!provider || e.provider === provider)) tenants.add(e.tenant);
  setOptions($("scope-tenant"), [...tenants].sort(), "every tenant");
}

// -- objects ------------------------------------------------------------------------------------

function stamp(object) {
  if (!object || typeof object !== "object") return "";
  return object.updated_at || object.updatedAt || object.created_at || object.createdAt || "";
}

async function showObjects() {
  const {provider, tenant} = scope();
  const kind = $("objects-kind").value;
  const q = $("objects-q").value.trim();
  const internal = $("objects-internal").checked;
  const listing = await api("/_sandbox/objects" + query({provider, tenant, kind, q, internal, limit: 500}));
  setOptions($("objects-kind"), [...new Set(listing.collections.map(c => c.kind))].sort(), "every kind");
  const groups = new Map();
  for (const item of listing.data) {
    const key = `${item.provider} · ${item.tenant} · ${item.kind}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(item);
  }
  const parts = [];
  for (const [key, items] of groups) {
    const rows = items.map(item => el("tr", {class: item.id === state.objectId ? "chosen" : null},
      el("td", {class: "mono nowrap"}, el("a", {href: "#objects/" + encodeURIComponent(item.id), "aria-label": `Open ${item.kind} ${item.id}`}, item.id)),
      el("td", {}, item.internal ? badge("record", "muted") : item.state ? badge(item.state) : ""),
      el("td", {class: "nowrap muted"}, time(stamp(item.object)))));
    parts.push(el("div", {class: "group"}, el("h3", {}, key, " ", el("span", {class: "muted"}, `(${items.length})`)),
      table(["id", "state", "updated"], rows, key)));
  }
  if (listing.has_more) parts.push(el("p", {class: "note"}, "More objects than shown: narrow the scope or search by id."));
  replace($("objects-list"), parts.length ? parts : empty(q ? `No object id contains “${q}”.` : "No objects here yet. Send a request, or fill with demo data (Tenants and reset)."));
  return listing;
}

async function showObject(id, focus) {
  const detail = $("object-detail");
  if (!id) {
    replace(detail, el("p", {class: "muted"}, "Choose an object to see its state and history."));
    return;
  }
  let found;
  try {
    found = await api("/_sandbox/objects/" + encodeURIComponent(id));
  } catch (error) {
    if (error.status === 404) {
      replace(detail, [el("h3", {class: "mono"}, id), empty("No object and no event has this id (a reset forgets both).")]);
      return;
    }
    throw error;
  }
  const deliveries = (await api("/_sandbox/webhook-deliveries" + query({object_id: id, limit: 100}))).data.reverse();
  const parts = [el("h3", {class: "mono"}, id)];
  for (const item of found.data) {
    parts.push(el("dl", {class: "kv"},
      el("dt", {}, "provider"), el("dd", {}, item.provider),
      el("dt", {}, "tenant"), el("dd", {class: "mono"}, item.tenant),
      el("dt", {}, "kind"), el("dd", {}, item.kind),
      el("dt", {}, "state"), el("dd", {}, item.internal ? badge("record", "muted") : badge(item.state))));
    parts.push(disclosure(`obj:${item.kind}:${item.id}`, item.internal ? "The record (repr)" : "The object, as its API shows it",
      el("pre", {}, item.internal ? item.repr : json(item.object)), !item.internal));
  }
  if (!found.data.length) parts.push(el("p", {class: "note"}, "The object is gone (deleted, or another state); its history remains."));
  parts.push(el("h3", {}, "History ", el("span", {class: "muted"}, `newest first, ${found.events.length} event${found.events.length === 1 ? "" : "s"}`)));
  if (!found.events.length) parts.push(empty("No event about it (yet)."));
  else parts.push(table(["time", "event", "cause"], found.events.map(event => el("tr", {},
    el("td", {class: "nowrap mono"}, time(event.occurred_at)),
    el("td", {}, disclosure("ev:" + event.id, el("span", {}, event.type), el("pre", {}, json(event.payload)))),
    el("td", {}, cause(event.cause)))), "History"));
  parts.push(el("h3", {}, "Webhooks about it"));
  parts.push(deliveries.length ? deliveries.map(renderDelivery) : empty("No delivery: no endpoint wanted its events."));
  replace(detail, parts, true);
  if (focus) detail.focus();
}

function cause(c) {
  if (!c) return "";
  const node = el("div", {}, badge(c.kind, c.kind === "unknown" ? "muted" : c.kind === "request" ? "" : "warn"), " ", el("span", {class: "mono"}, c.text));
  if (c.note) node.append(el("div", {class: "note"}, c.note));
  if (c.candidates && c.candidates.length && !c.request) {
    node.append(el("ul", {class: "note"}, c.candidates.map(r => el("li", {class: "mono"}, `#${r.seq} ${r.method} ${r.path} → ${r.status}`))));
  }
  return node;
}

// -- events -------------------------------------------------------------------------------------

async function showEvents() {
  const {provider, tenant} = scope();
  const type = $("events-type").value.trim();
  const objectId = $("events-object").value.trim();
  const events = (await api("/_sandbox/events" + query({provider, tenant, type, object_id: objectId, limit: 300}))).data.reverse();
  const rows = events.map(event => el("tr", {},
    el("td", {class: "nowrap mono"}, time(event.occurred_at)),
    el("td", {}, event.provider),
    el("td", {class: "mono"}, event.tenant),
    el("td", {}, disclosure("ev:" + event.id, event.type, el("pre", {}, json(event.payload)))),
    el("td", {class: "mono"}, el("a", {href: "#objects/" + encodeURIComponent(event.object_id)}, event.object_id))));
  replace($("events-list"), events.length ? table(["time", "provider", "tenant", "event", "object"], rows, "Events") : empty("No event yet."), true);
}

// -- webhooks -----------------------------------------------------------------------------------

function renderDelivery(d) {
  const endpoint = state.endpoints.find(e => e.id === d.endpoint_id);
  const last = d.attempts[d.attempts.length - 1];
  const summary = [
    el("span", {class: "mono nowrap"}, time(d.created_at)), badge(d.status), el("strong", {}, d.event_type),
    el("span", {class: "mono"}, d.object_id), el("span", {class: "muted"}, `${d.attempts.length} attempt${d.attempts.length === 1 ? "" : "s"}`),
    last ? badge(last.status_code !== null ? `last: ${last.status_code}` : "last: no answer", statusTone(last.status_code)) : null,
  ];
  const attempts = d.attempts.slice().reverse().map(a => el("tr", {},
    el("td", {}, String(a.attempt)),
    el("td", {class: "mono nowrap"}, time(a.at)),
    el("td", {}, a.status_code !== null ? badge(String(a.status_code), statusTone(a.status_code)) : badge("none", "bad"),
      a.error ? el("div", {class: "note"}, a.error) : null,
      a.response_body ? el("div", {class: "note mono"}, "answer: " + a.response_body.slice(0, 300)) : null),
    el("td", {class: "nowrap"}, `${a.latency_ms} ms`),
    el("td", {}, a.request_headers
      ? disclosure(`hdr:${d.id}:${a.attempt}`, "signed headers", el("pre", {}, Object.entries(a.request_headers).map(([k, v]) => `${k}: ${v}`).join("\n")))
      : el("span", {class: "note"}, "nothing was sent"))));
  const body = [
    el("dl", {class: "kv"},
      el("dt", {}, "delivery"), el("dd", {class: "mono"}, d.id),
      el("dt", {}, "event"), el("dd", {class: "mono"}, d.event_id),
      el("dt", {}, "endpoint"), el("dd", {class: "mono"}, endpoint ? `${endpoint.url} (${d.endpoint_id})` : `${d.endpoint_id} (removed)`),
      el("dt", {}, "tenant"), el("dd", {class: "mono"}, `${d.provider} · ${d.tenant}`),
      d.next_attempt_at ? [el("dt", {}, "next attempt"), el("dd", {}, time(d.next_attempt_at) + " (sandbox clock)")] : null,
      d.note ? [el("dt", {}, "note"), el("dd", {class: "error"}, d.note)] : null),
    el("div", {class: "actions"}, el("button", {type: "button", "aria-label": `Resend delivery ${d.id}`,
      onclick: () => act("Resending " + d.id, () => api(`/_sandbox/webhook-deliveries/${encodeURIComponent(d.id)}/resend`, {method: "POST"}))}, "Resend")),
    d.attempts.length ? table(["#", "at", "answer", "took", "sent"], attempts, "Attempts, newest first") : empty("Not attempted yet."),
    el("h4", {}, "Body as sent"),
    el("pre", {}, JSON.stringify(d.payload)),
  ];
  return disclosure("dlv:" + d.id, summary, body);
}

async function showWebhooks() {
  const {provider, tenant} = scope();
  const endpoints = state.endpoints.filter(e => (!provider || e.provider === provider) && (!tenant || !e.tenant || e.tenant === tenant));
  const rows = endpoints.map(e => el("tr", {},
    el("td", {class: "mono"}, e.id),
    el("td", {}, e.provider),
    el("td", {class: "mono"}, e.tenant || el("span", {class: "muted"}, "every tenant")),
    el("td", {class: "mono"}, e.url),
    el("td", {}, e.events ? e.events.join(", ") : el("span", {class: "muted"}, "every event")),
    el("td", {}, e.enabled ? badge("enabled", "ok") : [badge("disabled", "bad"), e.disabled_reason ? el("div", {class: "note"}, e.disabled_reason) : null]),
    el("td", {}, e.description || "")));
  replace($("endpoints-list"), endpoints.length
    ? [table(["id", "provider", "tenant", "url", "events", "status", "description"], rows, "Webhook endpoints"),
      el("p", {class: "note"}, "Secrets are not shown here: GET /_sandbox/webhook-endpoints/{id} has them.")]
    : empty("No endpoint: register one with POST /_sandbox/webhook-endpoints (docs/webhooks.md)."));
  const status = $("deliveries-status").value;
  const objectId = $("deliveries-object").value.trim();
  const deliveries = (await api("/_sandbox/webhook-deliveries" + query({provider, tenant, status, object_id: objectId, limit: 200}))).data.reverse();
  replace($("deliveries-list"), deliveries.length ? deliveries.map(renderDelivery) : empty("No delivery yet."), true);
}

// -- requests -----------------------------------------------------------------------------------

function message(part) {
  const headers = Object.entries(part.headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
  const body = part.body === null || part.body === undefined ? "" : typeof part.body === "string" ? part.body : json(part.body);
  return el("pre", {}, headers + (body ? "\n\n" + body : "") + (part.truncated ? "\n… (cut)" : ""));
}

async function showRequests() {
  const {provider, tenant} = scope();
  const path = $("requests-path").value.trim();
  const status = $("requests-status").value.trim();
  const hideReads = $("requests-reads").checked;
  let listing;
  try {
    listing = await api("/_sandbox/requests" + query({provider, tenant, path, status, limit: hideReads ? 1000 : 200}));
  } catch (error) {
    if (error.status === 400) { replace($("requests-list"), el("p", {class: "error"}, error.message)); return; }
    throw error;
  }
  const shown = hideReads ? listing.data.filter(r => r.provider || !["GET", "HEAD"].includes(r.method)).slice(0, 200) : listing.data;
  const items = shown.map(r => disclosure("req:" + r.seq, [
    el("span", {class: "mono muted"}, "#" + r.seq), el("span", {class: "mono nowrap"}, time(r.time)),
    el("strong", {class: "mono"}, r.method), el("span", {class: "mono"}, r.path + (r.query ? "?" + r.query : "")),
    badge(String(r.status), statusTone(r.status)), el("span", {class: "muted"}, [r.provider || "control plane", r.tenant].filter(Boolean).join(" · ")),
    el("span", {class: "muted"}, `${r.duration_ms} ms`),
  ], [r.hint ? el("p", {class: "note"}, "hint: " + r.hint) : null, el("h4", {}, "Request"), message(r.request), el("h4", {}, "Response"), message(r.response)]));
  const note = el("p", {class: "note"}, `The log keeps the last ${listing.capacity} requests (${listing.held} held), the dashboard's own reads too.`);
  replace($("requests-list"), [note, ...(items.length ? items : [empty(listing.capacity ? "No request yet." : "The request log is off (--request-log-size 0).")])], true);
}

// -- scenarios ----------------------------------------------------------------------------------

async function showScenarios() {
  const scenarios = (await api("/_sandbox/scenarios")).data;
  const parts = scenarios.map(s => {
    const rows = s.rules.map((rule, index) => {
      const {fired, ...rest} = rule;
      return el("tr", {}, el("td", {}, String(index + 1)), el("td", {}, badge(`${fired} time${fired === 1 ? "" : "s"}`, fired ? "ok" : "muted")),
        el("td", {}, el("pre", {}, json(rest))));
    });
    return el("div", {class: "group"}, el("h3", {}, s.name, " ", el("span", {class: "muted mono"}, s.id + (s.tenant ? " · tenant " + s.tenant : " · every tenant"))),
      rows.length ? table(["#", "fired", "rule"], rows, `Rules of ${s.name}`) : empty("No rule."));
  });
  replace($("scenarios-list"), parts.length ? parts : empty("No scenario loaded (POST /_sandbox/scenarios, or --scenario FILE: docs/scenarios.md)."));
}

// -- tenants and reset --------------------------------------------------------------------------

async function showTenants() {
  const {provider} = scope();
  const counts = new Map();
  for (const c of state.collections) {
    if (provider && c.provider !== provider) continue;
    const key = c.provider + "\u0000" + c.tenant;
    counts.set(key, (counts.get(key) || 0) + c.count);
  }
  const rows = [...counts.entries()].sort().map(([key, count]) => {
    const [p, t] = key.split("\u0000");
    return el("tr", {}, el("td", {}, p), el("td", {class: "mono"}, t), el("td", {}, String(count)),
      el("td", {}, el("button", {type: "button", class: "danger", "aria-label": `Reset tenant ${t} of ${p}`, onclick: () => {
        if (window.confirm(`Forget everything ${p} holds for ${t}?`)) act(`Resetting ${t}`, () => api("/_sandbox/reset", {method: "POST", body: {provider: p, tenant: t}}));
      }}, "Reset")));
  });
  replace($("tenants-list"), [
    rows.length ? table(["provider", "tenant", "records held", ""], rows, "Tenants") : empty("No tenant holds anything yet."),
    el("div", {class: "actions"}, el("button", {type: "button", class: "danger", onclick: () => {
      if (window.confirm("Forget every object, event, delivery and logged request of every tenant?")) act("Resetting everything", () => api("/_sandbox/reset", {method: "POST", body: {}}));
    }}, "Reset everything")),
  ]);
}

// -- sections, refresh and polling --------------------------------------------------------------

const RENDER = {
  objects: async () => { await showObjects(); await showObject(state.objectId, false); },
  events: showEvents, webhooks: showWebhooks, requests: showRequests, scenarios: showScenarios, tenants: showTenants,
};

async function refresh() {
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  try {
    await readCollections();  // the tenants to choose from, and the endpoints deliveries name
    await RENDER[state.section]();
    say("Updated " + new Date().toLocaleTimeString());
  } catch (error) {
    report(error);
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; refresh(); }
  }
}

function route(focus) {
  const hash = decodeURIComponent(location.hash.slice(1));
  const [section, ...rest] = hash.split("/");
  state.section = SECTIONS.includes(section) ? section : "objects";
  state.objectId = state.section === "objects" && rest.length ? rest.join("/") : null;
  for (const name of SECTIONS) $(name).hidden = name !== state.section;
  for (const link of document.querySelectorAll(".tabs a")) {
    if (link.dataset.section === state.section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  refresh().then(() => { if (focus && state.objectId) $("object-detail").focus(); });
}

async function poll() {
  showClock();
  if (!$("live").checked || document.visibilityState !== "visible") return;
  try {
    const activity = await api("/_sandbox/activity");
    const before = state.activity;
    state.activity = activity;
    if (!before) return;
    if (JSON.stringify(before.clock) !== JSON.stringify(activity.clock)) await readClock();
    const {clock: _a, ...now} = activity;
    const {clock: _b, ...then} = before;
    if (JSON.stringify(now) !== JSON.stringify(then)) await refresh();
  } catch (error) {
    report(error);
  }
}

function start() {
  $("clock-freeze").addEventListener("click", () => act(state.clock && state.clock.frozen ? "Unfreezing the clock" : "Freezing the clock",
    async () => { await api("/_sandbox/clock", {method: "POST", body: {frozen: !(state.clock && state.clock.frozen)}}); await readClock(); }));
  $("advance-form").addEventListener("submit", event => {
    event.preventDefault();
    const seconds = Number($("advance-seconds").value);
    act(`Advancing the clock by ${seconds} s`, async () => { await api("/_sandbox/clock/advance", {method: "POST", body: {seconds}}); await readClock(); });
  });
  $("scope").addEventListener("change", () => refresh());
  $("scope").addEventListener("submit", event => event.preventDefault());
  $("objects-form").addEventListener("submit", async event => {
    event.preventDefault();
    const q = $("objects-q").value.trim();
    const listing = await showObjects().catch(report);
    if (listing && q && listing.data.some(item => item.id === q)) location.hash = "#objects/" + encodeURIComponent(q);
  });
  $("objects-kind").addEventListener("change", () => refresh());
  $("objects-internal").addEventListener("change", () => refresh());
  for (const form of ["events-form", "deliveries-form", "requests-form"]) {
    $(form).addEventListener("submit", event => { event.preventDefault(); refresh(); });
  }
  $("deliveries-status").addEventListener("change", () => refresh());
  $("requests-reads").addEventListener("change", () => refresh());
  $("demo-fill").addEventListener("click", () => act("Filling with demo data", async () => {
    const filled = await api("/_sandbox/demo", {method: "POST", body: {}});
    const problems = filled.failures.length ? `; ${filled.failures.length} request(s) failed: see the request log` : "";
    return `Filled ${filled.tenants.length} tenants with ${filled.requests} requests${problems}`;
  }));
  $("live").addEventListener("change", () => say($("live").checked ? "Live updates on" : "Live updates paused"));
  window.addEventListener("hashchange", () => route(true));
  readClock().catch(report);
  // What the first render shows is what later polls compare with: a change made while the page
  // loads is not missed.
  api("/_sandbox/activity").then(activity => { state.activity = state.activity || activity; }).catch(report)
    .finally(() => { route(false); setInterval(poll, POLL_MS); });
}

document.addEventListener("DOMContentLoaded", start);
