"""The emulated providers, one folder each, all of the same shape (docs/architecture.md).

Each depends on `sandbox.core` only: never on another provider, the control plane or the face.
What core needs from a provider is `sandbox.core.registry.Provider`.
"""
