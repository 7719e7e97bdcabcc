"""Signed webhooks back to the caller: endpoints, signing schemes, an outbox with retries."""
