"""Hub downloads (only when the user allows them). Honours HF_ENDPOINT, so tests can point it
at a fake hub on loopback."""

from __future__ import annotations

from pathlib import Path

from voicecli.errors import ModelNotFoundError

WHISPER_FILES = ["config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*"]


def download(kind: str, repo_id: str, hub_file: str | None, root: Path) -> Path:
    try:
        from huggingface_hub import hf_hub_download, snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:  # pragma: no cover
        raise ModelNotFoundError("downloads need huggingface_hub", "pip install huggingface_hub") from exc
    target = root / repo_id.replace("/", "--")
    try:
        if kind == "stt":
            return Path(snapshot_download(repo_id, allow_patterns=WHISPER_FILES, local_dir=target))
        if kind == "tts":
            if not hub_file:
                raise ModelNotFoundError(f"no voice file known for hub repo {repo_id}")
            onnx = hf_hub_download(repo_id, hub_file, local_dir=target)
            hf_hub_download(repo_id, hub_file + ".json", local_dir=target)
            return Path(onnx)
        if kind == "llm":
            if not hub_file:
                raise ModelNotFoundError(f"no GGUF file known for hub repo {repo_id}")
            return Path(hf_hub_download(repo_id, hub_file, local_dir=target))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as exc:
        raise ModelNotFoundError(f"download of {repo_id} failed: {str(exc).splitlines()[0]}",
                                 "check the network or put the model in models/") from exc
    raise ModelNotFoundError(f"cannot download models of kind {kind}")
