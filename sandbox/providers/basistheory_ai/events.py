"""Basis Theory AI events: `{id, type, timestamp, data}`, the Standard Webhooks payload shape.

The data is the purchase intent as GET returns it, without the card: card numbers never
travel in webhooks.
"""

from __future__ import annotations

from sandbox.core.events import Event
from sandbox.providers.basistheory_ai.models import PurchaseIntent


def purchase_intent_event(event_id: str, project: str, event_type: str, timestamp: str, intent: PurchaseIntent) -> Event:
    payload = {"id": event_id, "type": event_type, "timestamp": timestamp, "data": intent.to_wire(with_card=False)}
    return Event(event_id, "basistheory", project, event_type, intent.id, timestamp, payload)
