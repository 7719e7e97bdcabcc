"""The one look of every page the sandbox hosts for a human step.

A human-step page stands in for a third party's screen that a front end opens for a person (an
operator's approval, an OTP, a passkey, a 3-D Secure challenge). Every one has the same parts:

- a header naming the provider, with a "sandbox" badge;
- a title, then a summary card (`summary`): what the step is about (product, amount, merchant,
  the card's brand and last four, where the object has them);
- a hint (`hint`): what the sandbox expects (the OTP `123456`, what a button does, what the
  front end calls next);
- the step's form (`form`, `text_field`, `choice_field`, `button`), or an alert (`alert`);
- once the step is over, an outcome panel (`Outcome`: succeeded, failed or cancelled) that
  reports back to the front end: a `postMessage` to the window that opened or framed the page,
  then, when the page was given an http(s) `return_url`, a redirect there (`ReturnTo`);
- a footer note saying what the page stands in for.

The message is `{"source": "sandbox", "provider", "step", "id", "outcome", "status"?}`
(each provider's page in docs/ says its steps). It carries ids and outcomes only, so it is
posted to any origin; a receiver checks `event.origin` (the sandbox) and `data.source`.

Server-rendered, with inline CSS and one small inline script, both under a nonce fresh for each
response in a strict Content-Security-Policy: nothing is loaded from the network. Text is escaped
unless it is `Html`, which only the helpers here make, so a field holding `<script>` shows as text.
The pages may be framed by the sandbox itself and by the origins in `FRAME_ANCESTORS` (by default
the loopback origins a local front end runs on), never by any site.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from yarl import URL

# -- markup -----------------------------------------------------------------------------------


class Html(str):
    """Markup the helpers here made: inserted as is. Any other value is text, and escaped."""

    __slots__ = ()


def html(value: object) -> Html:
    """`value` as markup: `Html` as it is, a list or tuple part by part, anything else escaped
    (quotes included)."""
    if isinstance(value, Html):
        return value
    if isinstance(value, list | tuple):
        return join(*value)
    return Html(escape(str(value)))


def join(*parts: object) -> Html:
    """The parts one after another (lists and tuples flattened); None and empty strings are left out."""
    return Html("".join(html(part) for part in parts if part is not None and part != ""))


_VOID = frozenset({"input", "br", "meta"})


def tag(element: str, /, *children: object, **attributes: object) -> Html:
    """`<element …>children</element>`. Attribute names lose a trailing `_` (`class_`, `for_`) and turn
    `_` into `-` (`aria_live`); True is a bare attribute; None and False leave it out."""
    shown = []
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        attribute = key.rstrip("_").replace("_", "-")
        shown.append(f" {attribute}" if value is True else f' {attribute}="{escape(str(value))}"')
    opening = f"<{element}{''.join(shown)}>"
    return Html(opening if element in _VOID else f"{opening}{join(*children)}</{element}>")


def code(value: object) -> Html:
    return tag("code", value)


def para(*children: object, **attributes: object) -> Html:
    return tag("p", *children, **attributes)


# -- the parts of a page ---------------------------------------------------------------------------


def summary(rows: Iterable[tuple[str, object]], heading: str = "What this is about") -> Html:
    """The summary card: label and value pairs; a row whose value is None or empty is left out."""
    items = [tag("div", tag("dt", label), tag("dd", value)) for label, value in rows if value is not None and value != ""]
    return tag("section", tag("h2", heading, id="summary-title"), tag("dl", *items), class_="card", aria_labelledby="summary-title")


def hint(*children: object) -> Html:
    """What the sandbox expects here: its magic values, what each button does, what comes next."""
    return tag(
        "aside", tag("h2", tag("span", "Sandbox", class_="badge"), " What the sandbox expects", id="hint-title"), *children,
        class_="hint", aria_labelledby="hint-title",
    )


def alert(*children: object) -> Html:
    """Something to put right before going on (a wrong code, a form that could not be read)."""
    return tag("div", *children, class_="alert", role="alert")


ButtonKind = Literal["primary", "secondary", "danger"]


def button(label: str, value: str, *, name: str = "action", kind: ButtonKind = "primary") -> Html:
    """A submit button; only a primary one asks the browser to check the form's fields first."""
    return tag("button", label, type="submit", name=name, value=value, class_=f"btn {kind}", formnovalidate=kind != "primary")


def actions(*buttons: Html) -> Html:
    return tag("div", *buttons, class_="actions")


def text_field(name: str, label: str, *, help: object = None, value: str = "", multiline: bool = False, **attributes: object) -> Html:
    """A labelled input (a textarea when `multiline`, where Enter does not submit the form);
    `help` is tied to it with aria-describedby."""
    field_id = f"field-{name}"
    help_id = f"{field_id}-help" if help else None
    if multiline:
        control = tag("textarea", value, id=field_id, name=name, aria_describedby=help_id, **{"rows": "2", **attributes})
    else:
        control = tag("input", id=field_id, name=name, value=value or None, aria_describedby=help_id, **{"type": "text", **attributes})
    return tag("div", tag("label", label, for_=field_id), control, para(help, id=help_id, class_="help") if help else None, class_="field")


def choice_field(name: str, legend: str, options: Iterable[tuple[str, str]], *, checked: str | None = None) -> Html:
    """Radio buttons in a fieldset; the first option is chosen unless `checked` names another."""
    listed = list(options)
    chosen = checked if checked in {value for value, _ in listed} else (listed[0][0] if listed else None)
    choices = [
        tag("label", tag("input", type="radio", name=name, value=value, id=f"field-{name}-{index}", checked=value == chosen), " ",
            label, class_="choice", for_=f"field-{name}-{index}")
        for index, (value, label) in enumerate(listed)
    ]
    return tag("fieldset", tag("legend", legend), *choices, class_="field")


def form(action: str, *children: object, back: ReturnTo | None = None, label: str | None = None) -> Html:
    """A form that posts to `action` (a path of the sandbox), carrying the page's return_url."""
    carried = tag("input", type="hidden", name="return_url", value=back.url) if back is not None and back.url else None
    return tag("form", *children, carried, method="post", action=action, aria_label=label)


# -- what a summary shows ------------------------------------------------------------------------

BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover", "jcb": "JCB",
          "diners": "Diners Club", "unionpay": "UnionPay"}
# ISO 4217 numeric codes some providers send, as people read them.
CURRENCIES = {"840": "USD", "978": "EUR", "826": "GBP", "036": "AUD", "124": "CAD", "392": "JPY", "756": "CHF", "702": "SGD"}


def card_text(brand: str | None, last4: str | None) -> str | None:
    """`Visa •••• 4242`: a card as a person recognises it; None when neither is known."""
    if not brand and not last4:
        return None
    name = BRANDS.get((brand or "").lower(), (brand or "Card").title())
    return f"{name} •••• {last4}" if last4 else name


def amount_text(value: object, currency: object = None, *, minor_units: int | None = None) -> str | None:
    """`45.99 USD`; `minor_units` divides an amount in cents and the like; a value that is not a
    number is shown as it was given."""
    if value is None or value == "":
        return None
    code = str(currency or "").upper()
    code = CURRENCIES.get(code, code)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        number = Decimal("NaN")
    if not number.is_finite() or abs(number.adjusted()) > 30:  # shown as given, within reason
        return f"{str(value)[:40]} {code}".strip()
    exponent = number.as_tuple().exponent
    places = minor_units if minor_units is not None else max(2, -exponent if isinstance(exponent, int) else 0)
    shown = f"{number.scaleb(-minor_units) if minor_units else number:,.{places}f}"
    return f"{shown} {code}".strip()


# -- forms -----------------------------------------------------------------------------------------


class ReturnQuery(BaseModel):
    """A human-step page's query (documentation): where to go once the step is over."""

    model_config = ConfigDict(extra="ignore")
    return_url: str | None = None


async def read_form(request: web.Request) -> Mapping[str, object] | None:
    """The posted form; None when it cannot be read (an unknown charset, a multipart body without
    a boundary): the page then answers 400."""
    try:
        return await request.post()
    except (ValueError, LookupError):
        return None


def text_of(posted: Mapping[str, object], name: str) -> str | None:
    """A text field of a form (a file sent in its place is no text), stripped; None when empty."""
    value = posted.get(name)
    return value.strip() or None if isinstance(value, str) else None


# -- where the page returns to --------------------------------------------------------------------

_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True, slots=True)
class ReturnTo:
    """The `return_url` a page was given: followed once the step is over, only when it is an
    absolute http(s) URL (never `javascript:`, `data:` or a path); `refused` when one was given
    but is not followed, which the page says."""

    url: str | None = None
    refused: bool = False

    @classmethod
    def of(cls, value: object) -> ReturnTo:
        if value is None or value == "":
            return cls()
        if not isinstance(value, str) or len(value) > 2048 or _UNSAFE.search(value):
            return cls(refused=True)
        try:
            parts = urlsplit(value)
            hostname, _ = parts.hostname, parts.port  # the port raises when out of range
        except ValueError:
            return cls(refused=True)
        if parts.scheme.lower() not in ("http", "https") or not hostname or parts.username is not None:
            return cls(refused=True)
        return cls(value)

    @classmethod
    def from_request(cls, request: web.Request, posted: object = None) -> ReturnTo:
        """A form's `return_url`, else the query's."""
        return cls.of(posted if posted not in (None, "") else request.query.get("return_url"))

    def query(self) -> dict[str, str]:
        return {"return_url": self.url} if self.url else {}

    def see_other(self, path: str) -> web.HTTPSeeOther:
        """Back to the page at `path` (after a POST), still carrying the return_url."""
        return web.HTTPSeeOther(str(URL.build(path=path, query=self.query())))


# -- the outcome ----------------------------------------------------------------------------------

Result = Literal["succeeded", "failed", "cancelled"]
_MARKS = {"succeeded": "✓", "failed": "✗", "cancelled": "–"}


@dataclass(frozen=True, slots=True)
class Step:
    """What a page's message names: the provider (as on the wire), the step and the object's id."""

    provider: str
    step: str
    id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the step ended. `status` is the object's status afterwards, sent in the message."""

    result: Result
    title: str
    detail: object = ""
    status: str | None = None


def message(step: Step, outcome: Outcome) -> dict[str, str]:
    """What the page posts to its opener or parent (the documented shape)."""
    sent = {"source": "sandbox", "provider": step.provider, "step": step.step, "id": step.id, "outcome": outcome.result}
    if outcome.status is not None:
        sent["status"] = outcome.status
    return sent


def _outcome_panel(step: Step | None, outcome: Outcome, back: ReturnTo) -> Html:
    returning = (
        para("Returning to ", tag("a", urlsplit(back.url).hostname or back.url, href=back.url), "…", id="return-note")
        if back.url else para("You can close this page.", id="return-note")
    )
    return tag(
        "section",
        tag("h2", tag("span", _MARKS[outcome.result], class_="mark", aria_hidden="true"), " ", outcome.title, id="outcome-title",
            tabindex="-1"),
        para(outcome.detail) if outcome.detail else None,
        returning,
        tag("button", "Close this window", type="button", id="close-window", class_="btn secondary", hidden=True),
        id="outcome", class_=f"outcome {outcome.result}", role="status", aria_live="polite", aria_labelledby="outcome-title",
        data_message=json.dumps(message(step, outcome), separators=(",", ":")) if step is not None else None,
        data_return_url=back.url if step is not None else None,
    )


# -- framing ----------------------------------------------------------------------------------------

# Who may frame a human-step page besides the sandbox itself: the face may set this from the CORS
# origins (`frame_ancestors`); without it, the loopback origins a local front end runs on.
FRAME_ANCESTORS = web.AppKey("frame_ancestors", tuple)
_SOURCE = re.compile(r"^https?://(?:\*\.)?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::(?:\d{1,5}|\*))?$")
_LOOPBACK = ("http://localhost:*", "https://localhost:*", "http://*.localhost:*", "https://*.localhost:*",
             "http://127.0.0.1:*", "https://127.0.0.1:*")


def frame_ancestors(origins: Iterable[str] = (), *, loopback: bool = True) -> tuple[str, ...]:
    """CSP `frame-ancestors` sources from origins written as the CORS setting takes them
    (`https://app.example.com`, `http://localhost:*`, `https://*.example.com`). A CSP source has
    no IPv6 literal, so `[::1]` is left out; anything else not of that shape is too."""
    sources = [*(_LOOPBACK if loopback else ()), *(origin.strip().lower().rstrip("/") for origin in origins)]
    return tuple(dict.fromkeys(source for source in sources if _SOURCE.fullmatch(source)))


def _headers(request: web.Request | None, nonce: str) -> dict[str, str]:
    allowed = request.app.get(FRAME_ANCESTORS) if request is not None else None
    sources = _LOOPBACK if allowed is None else tuple(source for source in allowed if _SOURCE.fullmatch(source))
    ancestors = " ".join(("'self'", *sources))
    policy = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src data:; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )
    return {
        "Content-Security-Policy": policy, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


# -- the page ----------------------------------------------------------------------------------------


def human_page(
    request: web.Request | None, *, provider: str, title: str, content: object = "", note: str, status: int = 200,
    step: Step | None = None, outcome: Outcome | None = None, back: ReturnTo | None = None, subtitle: str | None = None,
) -> web.Response:
    """A human-step page: the header, the title, the outcome (when the step is over), `content`
    (built with the helpers above), the footer note. The outcome reports back only with a `step`."""
    back = back or ReturnTo()
    parts: list[object] = []
    if outcome is not None:
        parts.append(_outcome_panel(step, outcome, back if step is not None else ReturnTo()))
    parts.append(content)
    if back.refused:
        parts.append(para("The return_url given is not followed: only an absolute http(s) URL is.", class_="help"))
    nonce = secrets.token_urlsafe(16)
    script = f'<script nonce="{nonce}">{_SCRIPT}</script>' if outcome is not None and step is not None else ""
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · {escape(provider)} sandbox</title>"
        f'<style nonce="{nonce}">{_CSS}</style></head><body>'
        f'<header class="bar"><span class="provider">{escape(provider)}</span><span class="badge">Sandbox</span>'
        f'{tag("span", subtitle, class_="subtitle") if subtitle else ""}</header>'
        f'<main id="main"><h1>{escape(title)}</h1>{join(*parts)}</main>'
        f'<footer><p>{escape(note)}</p></footer>'
        f"{script}</body></html>"
    )
    return web.Response(text=page, status=status, content_type="text/html", headers=_headers(request, nonce))


def render_page(title: str, body: str, status: int = 200, *, note: str, request: web.Request | None = None) -> web.Response:
    """A page in the same look around trusted HTML `body` (the control plane's login page, say)."""
    return human_page(request, provider="Control plane", title=title, content=Html(body), note=note, status=status)


_CSS = """
:root{--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--card:#fff;--accent:#0550ae;--ok:#1a7f37;--ok-bg:#dafbe1;
--bad:#cf222e;--bad-bg:#ffebe9;--off:#59636e;--off-bg:#eff2f5;--hint:#fff8c5;--hint-line:#d4a72c;--focus:#0969da}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);
background:var(--bg)}
.bar{display:flex;align-items:center;gap:.75rem;padding:.8rem 1.5rem;background:#1f2328;color:#fff}
.bar .provider{font-weight:700;font-size:1.15rem}
.bar .subtitle{color:#d1d9e0;margin-left:auto}
.badge{display:inline-block;padding:.05rem .55rem;border-radius:999px;background:#ffd33d;color:#1f2328;font-size:.75rem;
font-weight:700;text-transform:uppercase;letter-spacing:.06em;vertical-align:middle}
main{max-width:44rem;margin:2rem auto;padding:0 1rem;overflow-wrap:anywhere}
h1{font-size:1.65rem;line-height:1.25;margin:0 0 1.25rem}
h2{font-size:1.05rem;margin:0 0 .6rem}
.card,.hint,.outcome,form{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1rem 1.25rem;
margin:0 0 1rem}
dl{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.4rem 1.25rem;margin:0}
dl div{display:contents}
dt{color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere}
.hint{background:var(--hint);border-color:var(--hint-line)}
.hint p,.outcome p,form p{margin:.4rem 0}
.hint ul{margin:.4rem 0;padding-left:1.25rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;background:rgba(129,139,152,.18);
padding:.1em .35em;border-radius:5px;overflow-wrap:anywhere}
.field{margin:0 0 1rem;border:0;padding:0}
label,legend{display:block;font-weight:600;margin:0 0 .3rem;padding:0}
label.choice{display:flex;align-items:center;gap:.5rem;font-weight:400;margin:.25rem 0}
input[type=text],textarea{width:100%;max-width:24rem;font:inherit;font-size:1.1rem;padding:.55rem .7rem;border:1px solid #818b98;
border-radius:8px;background:#fff;color:var(--ink)}
input[type=radio]{width:1.1rem;height:1.1rem;margin:0}
.help{color:var(--muted);font-size:.92rem;margin:.3rem 0 0}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:.5rem}
.btn{font:inherit;font-weight:600;padding:.6rem 1.3rem;border-radius:8px;border:1px solid transparent;cursor:pointer;
min-height:2.75rem}
.btn.primary{background:var(--accent);color:#fff}
.btn.primary:hover{background:#033d8b}
.btn.secondary{background:#fff;color:var(--ink);border-color:#818b98}
.btn.danger{background:#fff;color:var(--bad);border-color:var(--bad)}
.btn.secondary:hover,.btn.danger:hover{background:var(--bg)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
h2[tabindex]:focus{outline:none}
.outcome{border-width:2px}
.outcome h2{font-size:1.25rem}
.outcome .mark{display:inline-block;width:1.6rem;height:1.6rem;line-height:1.6rem;text-align:center;border-radius:50%;
color:#fff;margin-right:.25rem}
.outcome.succeeded{background:var(--ok-bg);border-color:var(--ok)}
.outcome.succeeded .mark{background:var(--ok)}
.outcome.failed{background:var(--bad-bg);border-color:var(--bad)}
.outcome.failed .mark{background:var(--bad)}
.outcome.cancelled{background:var(--off-bg);border-color:var(--off)}
.outcome.cancelled .mark{background:var(--off)}
.alert{background:var(--bad-bg);border:1px solid var(--bad);border-radius:8px;padding:.65rem .9rem;margin:0 0 1rem}
a{color:var(--accent)}
[hidden]{display:none!important}
footer{max-width:44rem;margin:0 auto 2rem;padding:0 1rem;color:var(--muted);font-size:.875rem}
""".replace("\n", "")

# Once the step is over: tell the window that opened or framed the page, then follow return_url.
_SCRIPT = """(function () {
  "use strict";
  var panel = document.getElementById("outcome");
  if (!panel) { return; }
  var title = document.getElementById("outcome-title");
  if (title) { title.focus(); }
  var message = null;
  try { message = JSON.parse(panel.getAttribute("data-message") || "null"); } catch (e) { message = null; }
  var told = [];
  [window.opener, window.parent === window ? null : window.parent].forEach(function (target) {
    if (!message || !target || told.indexOf(target) >= 0) { return; }
    try { target.postMessage(message, "*"); told.push(target); } catch (e) { /* an opener already gone */ }
  });
  var back = panel.getAttribute("data-return-url");
  var note = document.getElementById("return-note");
  if (back && /^https?:\\/\\//i.test(back)) {
    window.setTimeout(function () { window.location.assign(back); }, 1500);
  } else if (window.opener && told.length) {
    if (note) { note.textContent = "The page that opened this window has been told. You can close it."; }
    var close = document.getElementById("close-window");
    if (close) {
      close.hidden = false;
      close.addEventListener("click", function () { window.close(); });
    }
  } else if (told.length && note) {
    note.textContent = "The page around this one has been told.";
  }
})();"""
