"""Transcription sessions with real models through the official ``openai`` SDK: ``connect(extra_query=
{"intent": "transcription"})`` then ``session.update`` with ``type: "transcription"``; a recorded
sentence (eval/speech) streamed as microphone audio is committed by the server VAD and transcribed
(a delta with the text, then ``completed`` matching the clip as well as the STT model does on the
clip itself), and no response is ever created."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.conftest import SPEECH_DIR
from tests.e2e.serve.rt_client import RATE, load_wav_24k, pcm16_b64, until
from voicecli.bench.wer import word_error_rate

pytestmark = [pytest.mark.models]

CLIP = "en_librispeech_1272-128104-0000.wav"
TEXT = "Mr. Quilter is the apostle of the middle classes and we are glad to welcome his gospel."


def test_transcription_session_transcribes_a_spoken_clip_and_never_responds(server, transcribe):
    clip = load_wav_24k(SPEECH_DIR / CLIP)
    base = word_error_rate([TEXT], [transcribe(clip, RATE)]).wer
    speech = np.concatenate([clip, np.zeros(int(1.5 * RATE), np.float32)])
    with server.client().realtime.connect(extra_query={"intent": "transcription"}) as conn:
        created = until(conn, "session.created")[-1].session
        assert created.type == "transcription"
        conn.session.update(session={"type": "transcription", "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": RATE}, "turn_detection": {"type": "server_vad"},
            "transcription": {"model": "whisper-1", "language": "en"}}}})
        assert until(conn, "session.updated")[-1].session.type == "transcription"
        t0 = time.monotonic()
        for i in range(0, len(speech), RATE // 25):
            conn.input_audio_buffer.append(audio=pcm16_b64(speech[i:i + RATE // 25]))
        events = until(conn, "conversation.item.input_audio_transcription.completed")
        took_s = time.monotonic() - t0
        done = events[-1]
        conn.conversation.item.retrieve(item_id=done.item_id)
        events += until(conn, "conversation.item.retrieved")
    deltas = [e.delta for e in events if e.type == "conversation.item.input_audio_transcription.delta"]
    assert deltas and "".join(deltas).strip()
    wer = word_error_rate([TEXT], [done.transcript]).wer
    print(f"\ntranscription session: {done.transcript!r} (WER {wer:.2f}, STT on the clip {base:.2f}), "
          f"{took_s:.1f} s after the first append")
    assert wer <= base + 0.1, (done.transcript, base)
    assert events[-1].item.content[0].transcript == done.transcript
    assert not [e.type for e in events if e.type.startswith("response.")]


def test_beta_sdk_transcription_session_update(server, transcribe):
    """The beta client (``client.beta.realtime.connect``, ``OpenAI-Beta: realtime=v1``) with its
    ``transcription_session.update``."""
    clip = load_wav_24k(SPEECH_DIR / CLIP)
    base = word_error_rate([TEXT], [transcribe(clip, RATE)]).wer
    speech = np.concatenate([clip, np.zeros(int(1.5 * RATE), np.float32)])
    with server.client().beta.realtime.connect(model="voicecli", extra_query={"intent": "transcription"}) as conn:
        until(conn, "session.created")
        conn.transcription_session.update(session={
            "input_audio_format": "pcm16", "turn_detection": {"type": "server_vad"},
            "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en"}})
        updated = until(conn, "transcription_session.updated")[-1].session
        assert updated.input_audio_transcription.language == "en"
        for i in range(0, len(speech), RATE // 25):
            conn.input_audio_buffer.append(audio=pcm16_b64(speech[i:i + RATE // 25]))
        events = until(conn, "conversation.item.input_audio_transcription.completed")
        conn.conversation.item.retrieve(item_id=events[-1].item_id)
        events += until(conn, "conversation.item.retrieved")
    done = next(e for e in events if e.type == "conversation.item.input_audio_transcription.completed")
    assert [e.delta for e in events if e.type == "conversation.item.input_audio_transcription.delta"]
    assert word_error_rate([TEXT], [done.transcript]).wer <= base + 0.1, done.transcript
    assert not [e.type for e in events if e.type.startswith("response.")]
