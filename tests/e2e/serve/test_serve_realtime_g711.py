"""G.711 through the official ``openai`` SDK with real models: a recorded sentence (eval/speech)
encoded to 8 kHz μ-law or A-law (audioop, independently of the server's codec path) and streamed
as microphone input is transcribed about as well as the original clip (normalised WER), and the spoken reply comes
back in the same format: decoded, it transcribes to the words of its transcript."""

from __future__ import annotations

import base64
import warnings

import numpy as np
import pytest

from tests.conftest import SPEECH_DIR
from tests.e2e.serve.rt_client import load_wav_24k, until
from tests.helpers import word_overlap
from voicecli.audio.resample import resample
from voicecli.bench.wer import word_error_rate

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

pytestmark = [pytest.mark.models]

CLIP = "en_librivox_austen_0880.wav"
TEXT = "he was not an ill disposed young man"
CODECS = {"audio/pcmu": (audioop.lin2ulaw, audioop.ulaw2lin), "audio/pcma": (audioop.lin2alaw, audioop.alaw2lin)}


@pytest.mark.parametrize("ga", list(CODECS))
def test_g711_speech_in_and_spoken_reply_out(server, transcribe, ga):
    encode, decode = CODECS[ga]
    original = load_wav_24k(SPEECH_DIR / CLIP)
    base = word_error_rate([TEXT], [transcribe(original, 24000)]).wer  # the STT model on the original clip
    speech = resample(original, 24000, 8000)
    speech = np.concatenate([speech, np.zeros(int(1.5 * 8000), np.float32)])
    g711 = encode((np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes(), 2)
    with server.client().realtime.connect(model="voicecli") as conn:
        conn.session.update(session={"type": "realtime", "audio": {
            "input": {"format": {"type": ga}, "turn_detection": {"type": "server_vad"},
                      "transcription": {"model": "whisper-1", "language": "en"}},
            "output": {"format": {"type": ga}}}})
        updated = until(conn, "session.updated")[-1].session
        assert updated.audio.input.format.type == updated.audio.output.format.type == ga
        for i in range(0, len(g711), 320):  # 40 ms at 8 kHz, one byte a sample
            conn.input_audio_buffer.append(audio=base64.b64encode(g711[i:i + 320]).decode())
        events = until(conn, "response.done")
    heard = next(e.transcript for e in events if e.type == "conversation.item.input_audio_transcription.completed")
    wer = word_error_rate([TEXT], [heard]).wer
    assert wer <= base + 0.15, (heard, base)  # telephone bandwidth and G.711 cost at most one word in seven
    reply = b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
    said = next(e.transcript for e in events if e.type == "response.output_audio_transcript.done")
    assert events[-1].response.status == "completed" and said.strip()
    audio = np.frombuffer(decode(reply, 2), "<i2").astype(np.float32) / 32768
    text = transcribe(audio, 8000)
    print(f"\n{ga}: heard {heard!r} (WER {wer:.2f}, original clip {base:.2f}); reply {said!r}, its audio heard as {text!r}")
    assert word_overlap(text, said) >= 0.6, (text, said)
