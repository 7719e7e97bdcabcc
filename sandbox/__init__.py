"""A local, deterministic emulator of agentic-payment providers."""

__version__ = "0.1.0"
