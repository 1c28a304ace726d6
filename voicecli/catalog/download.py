"""Hub downloads (only when the user allows them). Honours ``HF_ENDPOINT``, so tests point it at
a fake hub on loopback, and ``HF_HUB_OFFLINE``.

A download lands in the user models dir under the name it was asked for (``tiny/`` for a
Whisper model, ``NAME.onnx`` + ``NAME.onnx.json`` for a Piper voice, ``NAME.gguf`` for an LLM),
so the next run finds it there as a drop-in without touching the network. Files are fetched into
a hidden staging folder first; a failed or interrupted download never looks like a model (and
resumes next time)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from voicecli.errors import ModelNotFoundError

WHISPER_FILES = ["config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*"]


def local_name(name: str) -> str:
    """File-system name for a model name or hub id (``org/repo`` → ``org--repo``)."""
    return name.replace("/", "--")


def download(kind: str, repo_id: str, hub_file: str | None, root: Path, name: str | None = None) -> Path:
    """Fetch ``repo_id`` (one ``hub_file`` for tts/llm, a CTranslate2 snapshot for stt) into
    ``root`` and return the model's path there."""
    try:
        from huggingface_hub import constants, hf_hub_download, snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelNotFoundError("downloads need huggingface_hub", "pip install huggingface_hub") from exc
    base = local_name(name or repo_id)
    staging = root / f".{base}.partial"
    if constants.HF_HUB_OFFLINE:
        raise ModelNotFoundError(f"cannot download {repo_id}: HF_HUB_OFFLINE is set",
                                 "unset HF_HUB_OFFLINE, or put the model in models/")
    try:
        root.mkdir(parents=True, exist_ok=True)
        if kind == "stt":
            snapshot_download(repo_id, allow_patterns=WHISPER_FILES, local_dir=staging)
            if not ((staging / "model.bin").exists() and (staging / "config.json").exists()):
                raise ModelNotFoundError(f"hub repo {repo_id} has no CTranslate2 Whisper model "
                                         "(model.bin, config.json)",
                                         "pick a faster-whisper repo, e.g. Systran/faster-whisper-tiny")
            target = root / base
            if target.exists():
                shutil.rmtree(target)
            shutil.rmtree(staging / ".cache", ignore_errors=True)
            os.replace(staging, target)
            return target
        if kind in ("tts", "llm"):
            if not hub_file:
                raise ModelNotFoundError(f"no {'voice' if kind == 'tts' else 'GGUF'} file known for hub repo {repo_id}")
            suffix = ".onnx" if kind == "tts" else ".gguf"
            files = [hub_file, hub_file + ".json"] if kind == "tts" else [hub_file]
            fetched = [Path(hf_hub_download(repo_id, f, local_dir=staging)) for f in files]
            targets = [root / f"{base}{suffix}", root / f"{base}{suffix}.json"][:len(fetched)]
            # the .json first: the model file marks completion
            for src, dst in zip(fetched[::-1], targets[::-1], strict=True):
                os.replace(src, dst)
            shutil.rmtree(staging, ignore_errors=True)
            return targets[0]
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotFoundError(f"download of {repo_id} from {constants.ENDPOINT} failed: {first}",
                                 "check the network, or put the model in models/") from exc
    raise ModelNotFoundError(f"cannot download models of kind {kind}")
