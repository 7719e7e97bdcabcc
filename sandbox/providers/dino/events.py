"""Dino's webhook envelope, `{id, type, occurred_at, request_id, data: {purchase_intent | spend}}`, and its
signature."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from sandbox.core.clock import iso
from sandbox.core.events import Event
from sandbox.core.ids import IdStreams
from sandbox.core.runtime import Runtime
from sandbox.providers.dino.models import PurchaseIntent, SpendRequest


def purchase_intent_event(event_id: str, tenant: str, event_type: str, occurred_at: str, request_id: str, intent: PurchaseIntent) -> Event:
    return _event(event_id, tenant, event_type, occurred_at, request_id, "purchase_intent", intent.id, intent.to_wire())


class Announcing:
    """What Dino's services share to record what they do: the clock's now, one trace id per
    operation (the `request_id` of every event it records), and the events, built by `EVENT`."""

    rt: Runtime
    ids: IdStreams
    EVENT: ClassVar[Callable[..., Event]]

    def _now(self) -> str:
        return iso(self.rt.clock.now())

    def _trace(self, tenant: str) -> str:
        """The trace id shared by the events one operation records (`request_id`)."""
        return self.ids.ulid("req_trace", tenant)

    def _emit(self, tenant: str, obj: Any, event_type: str | None, request_id: str) -> None:
        """Record an event with a snapshot of the object as it is now."""
        if event_type is not None:
            event_id = self.ids.ulid("evt", tenant)
            self.rt.events.publish(type(self).EVENT(event_id, tenant, event_type, obj.updated_at, request_id, obj))


def spend_request_event(event_id: str, tenant: str, event_type: str, occurred_at: str, request_id: str, spend: SpendRequest) -> Event:
    """Dino's webhook page shows the spend request under `data.spend`."""
    return _event(event_id, tenant, event_type, occurred_at, request_id, "spend", spend.id, spend.to_wire())


def _event(
    event_id: str, tenant: str, event_type: str, occurred_at: str, request_id: str, name: str, object_id: str, wire: dict[str, Any],
) -> Event:
    """Dino's envelope: `data` holds the object under its name."""
    payload = {"id": event_id, "type": event_type, "occurred_at": occurred_at, "request_id": request_id, "data": {name: wire}}
    return Event(event_id, "dino", tenant, event_type, object_id, occurred_at, payload)


class DinoSigner:
    """`Dino-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (one `v1` per
    active secret, as Stripe does during rotation) and `X-Dino-Signature-Sha256: <hex
    HMAC-SHA256(secret, body)>`; the key is the whole `whsec_…` string."""

    def sign(self, secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        signed = f"{timestamp}.".encode() + body
        versions = ",".join(f"v1={_hex(secret.encode(), signed)}" for secret in secrets)
        return {"Dino-Signature": f"t={timestamp},{versions}", "X-Dino-Signature-Sha256": _hex(secrets[0].encode(), body)}

    def headers(self, event: Event, attempt: int) -> dict[str, str]:
        """Dino names the event, the attempt and the trace beside the signature."""
        return {
            "Dino-Event-Id": event.id,
            "Dino-Event-Type": event.type,
            "Dino-Delivery-Attempt": str(attempt),
            "Dino-Request-Id": str(event.payload.get("request_id", "")),
        }


def _hex(key: bytes, message: bytes) -> str:
    return hmac.digest(key, message, "sha256").hex()  # one call into OpenSSL: the same bytes as hmac.new(…).hexdigest()


SIGNER = DinoSigner()
