"""Hub downloads: ``voicecli models pull`` and ``--allow-download`` both land here. Honours
``HF_ENDPOINT`` (tests point it at a fake hub on loopback) and ``HF_HUB_OFFLINE``.

A download lands in the user models dir under the name it was asked for (``tiny/`` for a
Whisper model, ``NAME.onnx`` + ``NAME.onnx.json`` for a Piper voice, ``NAME.gguf`` for an LLM),
so the next run finds it there as a drop-in without touching the network. Files are fetched into
a hidden staging folder first (``.NAME.partial``, which ``voicecli models`` ignores), each one
resumable and verified (see :mod:`voicecli.catalog.fetch`); a failed or interrupted download
never looks like a model, and the next pull carries on where it stopped."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from voicecli.catalog.fetch import ProgressSink, check_space, describe, fetch, hub_errors, remaining_bytes, repo_files
from voicecli.errors import DownloadError

WHISPER_FILES = ["config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*"]


def local_name(name: str) -> str:
    """File-system name for a model name or hub id (``org/repo`` → ``org--repo``)."""
    return name.replace("/", "--")


def download(kind: str, repo_id: str, hub_file: str | None, root: Path, name: str | None = None,
             sha256: str | None = None, progress: ProgressSink | None = None) -> Path:
    """Fetch ``repo_id`` (one ``hub_file`` for llm, it and its ``.json`` for tts, the CTranslate2
    files for stt) into ``root`` and return the model's path there. ``sha256`` pins ``hub_file``."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise DownloadError(f"cannot download {repo_id}: HF_HUB_OFFLINE is set",
                            "unset HF_HUB_OFFLINE, or put the model in models/")
    if kind not in ("stt", "tts", "llm"):
        raise DownloadError(f"cannot download models of kind {kind}")
    if kind != "stt" and not hub_file:
        raise DownloadError(f"no {'voice' if kind == 'tts' else 'GGUF'} file known for hub repo {repo_id}")
    model = name or repo_id
    base = local_name(model)
    with _only_pull(root, base, model):
        return _download(kind, repo_id, hub_file, root, model, base, sha256, progress)


@contextlib.contextmanager
def _only_pull(root: Path, base: str, model: str) -> Iterator[None]:
    """One download of a model at a time (two would write the same ``.incomplete`` files)."""
    from filelock import FileLock, Timeout

    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the models folder {root}: {_first_line(exc)}",
                            "make it writable, or point XDG_DATA_HOME elsewhere") from exc
    path = root / f".{base}.lock"
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout as exc:
        raise DownloadError(f"{model} is being downloaded by another voicecli ({path})",
                            "wait for it to finish") from exc
    try:
        yield
    finally:
        lock.release()
        with contextlib.suppress(OSError):
            path.unlink()


def _download(kind: str, repo_id: str, hub_file: str | None, root: Path, model: str, base: str,
              sha256: str | None, progress: ProgressSink | None) -> Path:
    staging = root / f".{base}.partial"
    with hub_errors(repo_id):
        revision, paths = "main", [hub_file, f"{hub_file}.json"] if kind == "tts" else [hub_file]
        if kind == "stt":
            revision, listed = repo_files(repo_id)
            paths = [p for p in listed if any(fnmatch.fnmatch(p, pat) for pat in WHISPER_FILES)]
            if not {"model.bin", "config.json"} <= set(paths):
                raise DownloadError(f"hub repo {repo_id} has no CTranslate2 Whisper model (model.bin, config.json)",
                                    "pick a faster-whisper repo, e.g. Systran/faster-whisper-tiny")
        files = [describe(repo_id, str(p), revision) for p in paths]
        try:
            check_space(sum(remaining_bytes(staging, f) for f in files), root)
            fetched = [fetch(f, staging, model, sha256 if f.path == hub_file else None, progress) for f in files]
            return _install(kind, fetched, root, base, staging)
        except OSError as exc:
            raise DownloadError(f"download of {repo_id} into {root} failed: {_first_line(exc)}",
                                f"run `voicecli models pull {model}` again to resume") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _install(kind: str, fetched: list[Path], root: Path, base: str, staging: Path) -> Path:
    """Give verified files their real names in ``root`` (the model file last: it marks completion)."""
    if kind == "stt":  # the staging folder now holds exactly the verified files
        target = root / base
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
        return target
    suffix = ".onnx" if kind == "tts" else ".gguf"
    targets = [root / f"{base}{suffix}", root / f"{base}{suffix}.json"][:len(fetched)]
    for src, dst in zip(fetched[::-1], targets[::-1], strict=True):
        os.replace(src, dst)
    shutil.rmtree(staging, ignore_errors=True)
    return targets[0]
