"""Dino's webhook envelope: `{id, type, occurred_at, request_id, data: {purchase_intent}}`."""

from __future__ import annotations

from sandbox.core.events import Event
from sandbox.providers.dino.models import PurchaseIntent


def purchase_intent_event(event_id: str, tenant: str, event_type: str, occurred_at: str, request_id: str, intent: PurchaseIntent) -> Event:
    payload = {
        "id": event_id,
        "type": event_type,
        "occurred_at": occurred_at,
        "request_id": request_id,
        "data": {"purchase_intent": intent.to_wire()},
    }
    return Event(event_id, "dino", tenant, event_type, intent.id, occurred_at, payload)
