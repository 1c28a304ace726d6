"""Piper adapter: one loaded voice, synthesis sentence by sentence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

from voicecli.audio.format import AudioChunk
from voicecli.errors import ModelLoadError


class PiperSpeaker:
    """Blocking synthesis; iterate to get one chunk per sentence Piper finds in the text."""

    def __init__(self, model_path: str | Path, name: str, threads: int = 0) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        model_path = Path(model_path)
        config_path = model_path.with_name(model_path.name + ".json")
        try:
            config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
            opts = onnxruntime.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            session = onnxruntime.InferenceSession(str(model_path), sess_options=opts,
                                                   providers=["CPUExecutionProvider"])
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"cannot load Piper voice '{name}' from {model_path}: {exc}",
                                 "check the .onnx and .onnx.json files") from exc
        except Exception as exc:  # onnxruntime's own exception types
            raise ModelLoadError(f"Piper voice '{name}' is corrupt: {str(exc).splitlines()[0]}",
                                 "re-install or re-download the voice") from exc
        self._voice = PiperVoice(session=session, config=config)
        self.name = name
        self.sample_rate_hz = int(config.sample_rate)
        self.language = str(getattr(config, "espeak_voice", "") or "en")

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        from piper.config import SynthesisConfig

        cfg = SynthesisConfig(length_scale=(1.0 / speed) if speed else None, normalize_audio=False,
                              volume=1.0)
        for chunk in self._voice.synthesize(text, syn_config=cfg):
            yield AudioChunk(np.asarray(chunk.audio_float_array, dtype=np.float32), self.sample_rate_hz)

    def warm_up(self) -> None:
        for _ in self.synthesize("Hello."):
            pass
