"""Provider-neutral machinery shared by every emulated provider."""
