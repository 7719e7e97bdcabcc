"""Testing with the sandbox: the pytest plugin (docs/pytest.md) and the synchronous client behind it.

`from sandbox.testing import Sandbox, WebhookReceiver` gives the fixtures' types for annotations.
Nothing here imports the server: every helper is an HTTP call.
"""

from sandbox.testing.client import Response, SandboxClient, SandboxError
from sandbox.testing.isolation import Sandbox
from sandbox.testing.server import SandboxServer
from sandbox.testing.webhooks import Rejection, Webhook, WebhookReceiver

__all__ = ["Rejection", "Response", "Sandbox", "SandboxClient", "SandboxError", "SandboxServer", "Webhook", "WebhookReceiver"]
