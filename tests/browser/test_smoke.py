"""The harness itself: Chromium opens a page the sandbox serves and clicks through it."""

from __future__ import annotations

from tests.conftest import SEED_AUTHORIZE
from tests.durable import DINO


def test_chromium_approves_a_dino_intent_on_its_approval_page(sandbox, page):
    intent = sandbox.post("/v1/purchase-intents", {**_intent(), "max_total_cents": 900_000}, headers=DINO).json()
    authorized = sandbox.post(f"/v1/purchase-intents/{intent['id']}/authorize",
                              {**SEED_AUTHORIZE, "expected_total_cents": 600_000}, headers=DINO).json()
    assert authorized["status"] == "needs_approval"
    page.goto(authorized["approval_url"])
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert sandbox.get(f"/v1/purchase-intents/{intent['id']}", headers=DINO).json()["status"] == "approved"


def _intent() -> dict:
    from tests.conftest import SEED_INTENT

    return dict(SEED_INTENT)
