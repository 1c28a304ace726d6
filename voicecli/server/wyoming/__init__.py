"""Wyoming protocol server (Home Assistant's voice protocol): Whisper speech-to-text and Piper
text-to-speech on one port. Spec: shared/PROTOCOLS.md §3.

- ``describe`` → ``info``: every STT model and Piper voice usable offline, with their languages.
- ``transcribe`` + ``audio-start``/``audio-chunk``…/``audio-stop`` → ``transcript-start``, one
  ``transcript-chunk`` per segment as it is decoded, ``transcript``, ``transcript-stop``; then the
  server closes the connection, as wyoming-faster-whisper does.
- ``synthesize`` → one ``audio-start`` … ``audio-stop`` block; ``synthesize-start``/``-chunk``…/
  ``-stop`` → one block per piece as soon as it is complete, then ``synthesize-stopped``.
- Anything wrong is answered with ``error {text, code}``; the connection and the server live on.

Engines stay blocking: each model runs in its own single-thread executor, and its lazy
generators are consumed in that thread and handed to the loop, so the loop always answers
``describe`` at once.

Modules: ``protocol`` (error codes, event reading with limits, format checks), ``catalog`` (the
models on offer, voices from the shared :class:`voicecli.tts.voices.VoiceCatalog`), ``stt_flow`` /
``tts_flow`` (one connection's STT and TTS), ``handler`` (one connection), ``server`` (listening,
zeroconf), ``__main__`` (``python -m voicecli.server.wyoming --uri tcp://127.0.0.1:10300 [--model M]
[--voice V]``). Shared with the other servers: :mod:`voicecli.concurrency` (thread → loop),
:mod:`voicecli.languages`, :mod:`voicecli.stt.options`, :mod:`voicecli.tts.speakable`.
"""

from voicecli.server.wyoming.catalog import STT_PROGRAM, TTS_PROGRAM, ModelCard, ModelSlot, Speaker, WyomingEngines
from voicecli.server.wyoming.handler import WyomingHandler
from voicecli.server.wyoming.protocol import ErrorCode, ProtocolError, check_format, read_event
from voicecli.server.wyoming.server import check_zeroconf, make_server, serve_wyoming

__all__ = [
    "STT_PROGRAM",
    "TTS_PROGRAM",
    "ErrorCode",
    "ModelCard",
    "ModelSlot",
    "ProtocolError",
    "Speaker",
    "WyomingEngines",
    "WyomingHandler",
    "check_format",
    "check_zeroconf",
    "make_server",
    "read_event",
    "serve_wyoming",
]
