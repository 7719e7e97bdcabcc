"""Basis Theory AI's human steps: the page behind a Visa CREATE_PASSKEY answer's endpoint."""

from __future__ import annotations

from aiohttp import web

from sandbox.core.verification import passkey_page
from sandbox.providers.basistheory_ai.service import PASSKEY_PAGE


def routes() -> list[web.RouteDef]:
    return [web.get(PASSKEY_PAGE, passkey_page)]
