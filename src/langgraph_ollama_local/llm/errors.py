"""Provider errors: what happened, why, and the command that fixes it."""

from __future__ import annotations


class ProviderError(RuntimeError):
    """A chat model could not be created or reached."""


class ProviderUnavailableError(ProviderError):
    """The provider's server is not reachable."""


class ModelNotFoundError(ProviderError):
    """The server is up but does not have the model."""


class ModelNotInstalledError(ProviderError):
    """The embedded model's packages (or llama-cpp-python) are not installed."""


class ModelChecksumError(ProviderError):
    """The joined model file does not have the expected sha256."""
