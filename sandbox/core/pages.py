"""The one look of every page the sandbox hosts for a human step."""

from __future__ import annotations

from html import escape

from aiohttp import web

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
dt{{font-weight:600}}dd{{margin:0 0 .5rem}}button{{font-size:1rem;padding:.5rem 1.5rem;margin-right:1rem}}
.note{{color:#555}}</style></head>
<body><h1>{title}</h1>{body}<p class="note">{note}</p></body></html>"""


def render_page(title: str, body: str, status: int = 200, *, note: str) -> web.Response:
    """A hosted page; `body` is trusted HTML, everything else is escaped."""
    page = _PAGE.format(title=escape(title), body=body, note=escape(note))
    return web.Response(text=page, status=status, content_type="text/html")
