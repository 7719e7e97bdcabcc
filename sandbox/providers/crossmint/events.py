"""Crossmint events: `{"type", "payload"}`, the envelope Crossmint's webhooks use."""

from __future__ import annotations

from typing import Any

from sandbox.core.events import Event


def event(event_id: str, project: str, event_type: str, occurred_at: str, object_id: str, payload: dict[str, Any]) -> Event:
    return Event(event_id, "crossmint", project, event_type, object_id, occurred_at, {"type": event_type, "payload": payload})
