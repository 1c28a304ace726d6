#!/usr/bin/env bash
# One full spoken exchange on the bundled defaults: examples/question.wav is played into
# `voicecli talk` in real time, as a microphone would; the spoken reply goes to demo-reply.wav.
# It ends with the turn's latency as a listener would time it (end of the question → first sound
# of the reply, read off the two recordings) and what to try next.
set -euo pipefail
cd "$(dirname "$0")/.."
VOICECLI=.venv/bin/voicecli
PYTHON=.venv/bin/python
mode=()
[ -t 1 ] || mode=(--plain)   # the live screen needs a terminal
"$VOICECLI" talk --input examples/question.wav --output demo-reply.wav --no-history "${mode[@]}"
echo
"$PYTHON" - examples/question.wav demo-reply.wav <<'PY'
import sys
from voicecli.audio.decode import decode_audio
from voicecli.bench.device_loop import first_audible_sample, last_audible_sample

RATE_HZ = 16_000  # both recordings decoded to one rate; they start together (the session's timeline)
question, reply = decode_audio(sys.argv[1]), decode_audio(sys.argv[2])
end = last_audible_sample(question)
onset = first_audible_sample(reply, end)
if onset is None:
    print("Latency: no reply was heard in demo-reply.wav.")
else:
    print(f"Latency: {(onset - end) / RATE_HZ * 1000:,.0f} ms from the end of the question to the first sound of "
          f"the reply (voice-to-voice, as heard; the reply is in {sys.argv[2]}).")
PY
echo "Next, talk for real: source .venv/bin/activate && voicecli talk (speak, pause, hear the answer; space interrupts, q quits)."
