"""The evaluation clips: ``manifest.jsonl`` (one JSON object per line: ``file``, ``text``,
``language``, ``duration_s``) next to 16 kHz mono WAV files, as in the repository's ``eval/speech``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicecli.errors import VoicecliError

ENV_EVAL_DIR = "VOICECLI_EVAL_DIR"


@dataclass(frozen=True)
class EvalClip:
    path: Path
    text: str
    """Reference transcript."""
    language: str
    """Empty for non-speech clips."""
    duration_s: float

    @property
    def name(self) -> str:
        return self.path.name

    def samples(self) -> np.ndarray:
        from voicecli.audio.decode import decode_audio

        return decode_audio(self.path)


def default_eval_dir() -> Path:
    """``$VOICECLI_EVAL_DIR``, else the checkout's own ``eval/speech`` (shipped in the repository),
    else ``eval/speech`` under the current directory."""
    env = os.environ.get(ENV_EVAL_DIR)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2]
    for base in (checkout, Path.cwd()):
        cand = base / "eval" / "speech"
        if (cand / "manifest.jsonl").exists():
            return cand
    return checkout / "eval" / "speech"


def load_clips(eval_dir: Path) -> list[EvalClip]:
    manifest = eval_dir / "manifest.jsonl"
    if not manifest.exists():
        raise VoicecliError(f"no eval set at {eval_dir} (manifest.jsonl missing)",
                            "pass --eval-dir DIR (or set VOICECLI_EVAL_DIR), or skip STT with --only")
    clips: list[EvalClip] = []
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            clips.append(EvalClip(eval_dir / d["file"], str(d.get("text", "")), str(d.get("language", "")),
                                  float(d.get("duration_s", 0.0))))
        except (ValueError, KeyError, TypeError) as exc:
            raise VoicecliError(f"{manifest}:{n}: not a manifest entry ({exc})",
                                'each line needs {"file": …, "text": …, "language": …}') from exc
    return clips


def english_speech(clips: list[EvalClip]) -> list[EvalClip]:
    return [c for c in clips if c.language == "en" and c.text.strip()]
