"""``voicecli bench``: reproducible latency, throughput and accuracy figures.

Runners (:mod:`.stages` for VAD/STT/LLM/TTS micro-benchmarks, :mod:`.e2e` for voice-to-voice
through the real conversation pipeline) return frozen result objects; :mod:`.report` renders
them (Rich table, JSON, comparison, plot). The CLI in :mod:`voicecli.cli.bench` is a thin
adapter over :func:`voicecli.bench.runner.run_bench`."""

from voicecli.bench.stats import Summary, summarize

__all__ = ["Summary", "summarize"]
